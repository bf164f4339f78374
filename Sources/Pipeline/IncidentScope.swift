import ConsentRecords
import Foundation

/// Incident response (SPEC §5, §6 `incident`): every publication the shared ledger knows of (all pipelines that
/// share it), matched against selectors. Answers from the hash-chained events alone, with the records that verify
/// now (or the keys recorded at publication) to tell which key signed what. Names no patient: assets are opaque
/// ids, records ids, subjects pseudonymous references.
public struct IncidentScope: Sendable {
    /// One publication (a `published` or `released` event) and what became of it.
    public struct Entry: Sendable {
        public var asset: String
        public var pipeline: String
        public var channel: String?
        public var publishedName: String?
        public var records: [String]
        public var keys: [String]
        public var publishedAt: String
        public var live: Bool
        public var withdrawnAt: String?
        public var withdrawnReasons: [String] = []
        public var withdrawnOnHost: String?
        /// Notices for this asset the ledger holds (failed ones and their later deliveries).
        public var notices: [String] = []
        var fingerprints: [String?]
        var publishedDate: Date?
    }

    public var entries: [Entry]
    public var selectors: TakedownSelectors
    public var chainProblems: [String]

    public var liveCount: Int { entries.filter(\.live).count }

    /// Every publication of the ledger, in the order published.
    public static func publications(ledger: any LedgerStore, registry: Registry) throws(PipelineError) -> [Entry] {
        let live = try ledger.livePublications()
        let liveAssets = Dictionary(live.values.map { ($0.asset, $0.name) }, uniquingKeysWith: { a, _ in a })
        var entries: [Entry] = []
        var open: [String: Int] = [:]
        for event in try ledger.events(
            EventQuery(kinds: [.published, .released, .retracted, .notifyFailed, .notifySent]))
        {
            guard let asset = event.asset else { continue }
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            switch event.eventKind {
            case .published?, .released?:
                guard let name = detail["published_name"] as? String else { continue }
                let records = detail["records"] as? [String] ?? []
                var keys = detail["record_keys"] as? [String] ?? []
                if keys.isEmpty { keys = records.compactMap { registry.keyID(ofAuthorization: $0) } }
                open[asset] = entries.count
                entries.append(
                    Entry(
                        asset: asset, pipeline: event.pipeline, channel: detail["channel"] as? String,
                        publishedName: name, records: records, keys: Array(Set(keys)).sorted(),
                        publishedAt: event.at, live: liveAssets[asset] == name, withdrawnAt: nil,
                        fingerprints: [event.contentSHA256, event.fileSHA256],
                        publishedDate: Ledger.parseTimestamp(event.at)))
            case .retracted?:
                guard let index = open.removeValue(forKey: asset) else { continue }
                entries[index].withdrawnAt = event.at
                entries[index].withdrawnReasons = detail["reasons"] as? [String] ?? []
                entries[index].withdrawnOnHost = detail["host"] as? String
                entries[index].live = false
            case .notifyFailed?:
                guard let index = open[asset] ?? entries.lastIndex(where: { $0.asset == asset }) else { continue }
                let document = detail["document"] as? [String: Any] ?? [:]
                entries[index].notices.append(
                    "\(event.at) \(document["event"] as? String ?? "notice") NOT delivered (sent again by later runs)")
            case .notifySent?:
                guard let index = open[asset] ?? entries.lastIndex(where: { $0.asset == asset }) else { continue }
                entries[index].notices.append("\(event.at) a notice that had failed was delivered")
            default: continue
            }
        }
        return entries
    }

    /// Whether `entry` is selected (the selectors' rules of a takedown; without `all`, none named selects all).
    public static func selects(_ selectors: TakedownSelectors, _ entry: Entry, registry: Registry, now: Date) -> Bool {
        var scoped = registry
        scoped.pipelineName = entry.pipeline
        let target = scoped.takedownTarget(
            channel: entry.channel ?? "", asset: entry.asset, fingerprints: entry.fingerprints, records: entry.records,
            keys: entry.keys, candidates: [], publishedAt: entry.publishedDate)
        return Takedown(id: "scope", select: selectors, reason: "").selects(
            target, now: now, chain: { registry.chain(of: $0) })
    }

    public static func make(
        selectors: TakedownSelectors, ledger: any LedgerStore, registry: Registry, now: Date
    ) throws(PipelineError) -> IncidentScope {
        let all = try publications(ledger: ledger, registry: registry)
        return IncidentScope(
            entries: all.filter { selects(selectors, $0, registry: registry, now: now) }, selectors: selectors,
            chainProblems: try ledger.verifyChain())
    }

    public func json(now: Date) -> String {
        let list: [[String: Any]] = entries.map { e in
            [
                "asset": e.asset, "pipeline": e.pipeline, "channel": e.channel ?? NSNull(),
                "published_name": e.publishedName ?? NSNull(), "records": e.records, "keys": e.keys,
                "published_at": e.publishedAt, "live": e.live, "withdrawn_at": e.withdrawnAt ?? NSNull(),
                "withdrawn_reasons": e.withdrawnReasons, "withdrawn_on_host": e.withdrawnOnHost ?? NSNull(),
                "notices": e.notices,
            ]
        }
        let object: [String: Any] = [
            "selectors": selectors.words, "generated_at": Ledger.timestamp(now), "publications": list,
            "live": liveCount, "ledger_intact": chainProblems.isEmpty, "ledger_problems": chainProblems,
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The page for people, in the audit report's style.
    public func html(
        title: String, intro: String, timeline: [(at: String, what: String)] = [], timeZone: TimeZone, now: Date
    )
        -> String
    {
        let escape = PlainWords.html
        func when(_ iso: String?) -> String { iso.map { escape(PlainWords.time($0, in: timeZone)) } ?? "—" }
        var page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8">
            <title>ConsentGate: \(escape(title))</title>
            <style>\(AuditReport.style)</style></head><body>
            <h1>\(escape(title))</h1>
            <p class="lead">\(escape(intro))</p>
            <p class="lead">Selected: \(escape(selectors.words.isEmpty ? "everything" : selectors.words)). \
            \(entries.count == 1 ? "One publication matches" : "\(entries.count) publications match"); \
            <span class="\(liveCount == 0 ? "live" : "gone")">\(liveCount == 0 ? "none is" : "\(liveCount) \(liveCount == 1 ? "is" : "are")") live now</span>. \
            \(chainProblems.isEmpty
                ? "The ledger is intact."
                : "<span class=\"broken\">The ledger is BROKEN: do not trust this history; call the administrator.</span>") \
            Times are in \(escape(PlainWords.zoneName(timeZone))); generated \(escape(PlainWords.time(now, in: timeZone))).</p>

            """
        for problem in chainProblems { page += "<p class=\"broken\">\(escape(problem))</p>\n" }
        if !timeline.isEmpty {
            page += "<h2>Timeline</h2>\n<table class=\"events\"><tr><th>When</th><th>What</th></tr>\n"
            for item in timeline {
                page += "<tr><td class=\"when\">\(when(item.at))</td><td>\(escape(item.what))</td></tr>\n"
            }
            page += "</table>\n"
        }
        page += """
            <h2>Publications</h2>
            <table class="events"><tr><th>Asset</th><th>Pipeline / channel</th><th>Records (keys)</th><th>Published</th>\
            <th>Now</th><th>Notices</th></tr>

            """
        for e in entries {
            let state =
                e.live
                ? "<span class=\"gone\">LIVE</span>"
                : "withdrawn \(when(e.withdrawnAt))"
                    + (e.withdrawnOnHost.map { " on \(escape($0))" } ?? "") + "<br><span class=\"minor\">"
                    + e.withdrawnReasons.map { escape(PlainWords.reason($0)) }.joined(separator: "<br>") + "</span>"
            page += """
                <tr><td><code>\(escape(e.asset))</code><br><span class="minor">\(escape(e.publishedName ?? ""))</span></td>\
                <td>\(escape(e.pipeline)) / \(escape(e.channel ?? "?"))</td>\
                <td>\(e.records.map(escape).joined(separator: "<br>"))<br><span class="minor">\(e.keys.map(escape).joined(separator: ", "))</span></td>\
                <td class="when">\(when(e.publishedAt))</td><td>\(state)</td>\
                <td class="minor">\(e.notices.map(escape).joined(separator: "<br>"))</td></tr>

                """
        }
        page += "</table></body></html>\n"
        return page
    }
}

extension IncidentScope {
    /// The pipeline's records as `run` sees them (the folder and the ledger's memory), for matching keys, subjects
    /// and chains. A trust file or folder that cannot be used gives a registry of nothing (keys then come only from
    /// what the ledger recorded at publication), with a warning.
    public static func registry(config: PipelineConfig, ledger: (any LedgerStore)?, now: Date) throws(PipelineError)
        -> (registry: Registry, warnings: [String])
    {
        let trust = Result { () throws(TrustStoreError) -> TrustStore in try TrustStore.load(path: config.trust) }
        let loaded = try PipelineRecords.loadNoting(config: config, trust: trust, ledger: ledger, now: now)
        var warnings = loaded.gone
        if let why = loaded.registry.unverifiableBecause {
            warnings.append("records cannot be verified (\(why)): keys and subjects come only from the ledger")
        }
        return (loaded.registry, warnings)
    }
}
