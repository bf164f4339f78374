import Foundation

/// The audit report: every event with its asset id, hashes and records, as JSON or as a page for a privacy officer.
public enum AuditReport {
    public static func json(pipeline: String, events: [LedgerEvent], chainProblems: [String]) -> String {
        let rows: [[String: Any]] = events.map { event in
            [
                "seq": event.seq, "at": event.at, "kind": event.kind, "asset": event.asset ?? NSNull(),
                "file_sha256": event.fileSHA256 ?? NSNull(), "content_sha256": event.contentSHA256 ?? NSNull(),
                "detail": (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) ?? event.detail,
                "hash": event.hash,
            ]
        }
        let report: [String: Any] = [
            "pipeline": pipeline, "chain_intact": chainProblems.isEmpty, "chain_problems": chainProblems,
            "events": rows,
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func html(pipeline: String, events: [LedgerEvent], chainProblems: [String]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let counts = Dictionary(grouping: events, by: \.kind).mapValues(\.count)
        var page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>ConsentGate audit: \(escape(pipeline))</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%}
            th{background:#eee}td:nth-child(2){white-space:nowrap}.published{color:#060}.quarantined{color:#a60}.retracted{color:#a00}.broken{color:#a00;font-weight:bold}
            code{font-size:85%}</style></head><body>
            <h1>ConsentGate audit report: \(escape(pipeline))</h1>
            <p>Ledger chain: \(chainProblems.isEmpty ? "intact" : "<span class=\"broken\">BROKEN</span>") ·
            published \(counts["published"] ?? 0) · quarantined \(counts["quarantined"] ?? 0) · retracted \(counts["retracted"] ?? 0) ·
            generated \(escape(Ledger.timestamp(Date())))</p>
            """
        for problem in chainProblems { page += "<p class=\"broken\">\(escape(problem))</p>" }
        page +=
            "<table><tr><th>#</th><th>when (UTC)</th><th>what</th><th>asset</th><th>authorizations / reasons</th><th>content SHA-256</th></tr>\n"
        for event in events where event.kind != "claimed" {
            var detail = event.detail
            if let object = try? JSONSerialization.jsonObject(with: Data(event.detail.utf8)) as? [String: Any] {
                detail = object.sorted { $0.key < $1.key }.compactMap { key, value in
                    let text = (value as? [Any])?.map { "\($0)" }.joined(separator: ", ") ?? "\(value)"
                    return text.isEmpty ? nil : "\(key): " + text
                }.joined(separator: "; ")
            }
            page +=
                "<tr class=\"\(escape(event.kind))\"><td>\(event.seq)</td><td>\(escape(event.at))</td><td>\(escape(event.kind))</td>"
            page += "<td><code>\(escape(event.asset ?? "-"))</code></td><td>\(escape(detail))</td>"
            let content = event.contentSHA256.map { String($0.prefix(16)) + "…" } ?? "—"
            page += "<td><code>\(escape(content))</code></td></tr>\n"
        }
        return page + "</table></body></html>\n"
    }
}
