import ConsentRecords
import Foundation
import Hummingbird

/// The app's pages, rendered here as plain HTML (no script at all): the pending pictures as cards, the forms, the
/// records and what is live.
enum OfficePages {
    static func esc(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func layout(title: String, body: String, csrf: String?) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="same-origin">
        <title>\(esc(title)) · ConsentGate office</title><style>\(style)</style></head><body>
        <nav><b>ConsentGate office</b> · <a href="/">Pending pictures</a> · <a href="/records">Records</a> · \
        <a href="/live">Live now</a></nav>
        <h1>\(esc(title))</h1>
        \(body)
        </body></html>

        """
    }

    static func ok(_ title: String, _ body: String, state: OfficeState) -> Response {
        OfficeServer.page(.ok, title, body, state: state)
    }

    static func hidden(_ state: OfficeState) -> String {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(state.csrf)\">"
    }

    /// The pending pictures, from the gate's export, with who has consented by the records as they are now.
    static func cards(state: OfficeState) async -> Response {
        let now = Date()
        let export: ExportData
        switch ExportData.load(folder: state.settings.export) {
        case .success(let loaded): export = loaded
        case .failure(let problem): return ok("Pending pictures", "<p class=\"problem\">\(esc(problem.message))</p>", state: state)
        }
        let live = try? LiveRecords.load(state.settings, now: now).get()
        var html = "<p class=\"minor\">Pipeline <b>\(esc(export.pipeline))</b>, channel <b>\(esc(export.channel))</b>. "
        html += "The gate's view after its last run (\(esc(export.madeAt))); who has consented is read from the "
        html += live == nil ? "same run.</p>\n" : "records folder now.</p>\n"
        if let problem = export.recordsProblem { html += "<p class=\"problem\">\(esc(problem))</p>\n" }
        let pending = export.cards.filter { $0.status == "pending" }
        let person = export.cards.filter { $0.status != "pending" }
        if export.cards.isEmpty { html += "<p>Nothing is in quarantine.</p>\n" }
        if !pending.isEmpty {
            html += "<h2>Waiting for consent (\(pending.count))</h2>\n"
            for card in pending { html += cardHTML(card, live: live, now: now) }
        }
        if !person.isEmpty {
            html += "<h2>Need a person (\(person.count))</h2>\n"
            for card in person { html += cardHTML(card, live: live, now: now) }
        }
        return ok("Pending pictures", html, state: state)
    }

    static func cardHTML(_ card: ExportData.Card, live: LiveRecords?, now: Date) -> String {
        var html = "<article class=\"card \(card.status == "pending" ? "pending" : "person")\" id=\"card-\(esc(card.asset))\">"
        if let preview = card.preview, preview == "previews/\(card.asset).jpg" {
            html += "<img src=\"/\(esc(preview))\" alt=\"preview of \(esc(card.originalName))\" width=\"200\">"
        } else {
            html += "<div class=\"placeholder\">\(esc(card.previewLabel ?? "no preview"))</div>"
        }
        html += "<div class=\"body\"><h3>\(esc(card.originalName.isEmpty ? "(name not kept)" : card.originalName))</h3>\n"
        html += "<ul>" + card.reasons.map { "<li>\(esc($0.words))</li>" }.joined() + "</ul>\n"
        html += consentHTML(card, live: live, now: now)
        if card.status == "pending" {
            if let live, live.decision(card, now: now).approved {
                html += "<p class=\"good\">Covered now: the next run publishes it.</p>\n"
            }
            html += "<p>\(esc(card.action.cure))</p>\n"
            if card.presentedSha256 != nil {
                html += "<p><a class=\"button\" href=\"/authorize?asset=\(esc(card.asset))\">Record an authorization</a></p>\n"
            }
        } else {
            html += "<p>\(esc(card.action.cure))</p>\n<p>Who can act: \(esc(card.action.whoCanAct)).</p>\n"
            if let command = card.action.command { html += "<pre>\(esc(command))</pre>\n" }
        }
        html += "<p class=\"minor\">Fingerprint \(esc(card.presentedSha256 ?? "none")) · quarantined \(esc(card.quarantinedAt))</p>"
        return html + "</div></article>\n"
    }

    /// "1 of 2 consented": who has, by which authorization, and how many are missing.
    static func consentHTML(_ card: ExportData.Card, live: LiveRecords?, now: Date) -> String {
        var required: Int
        var consented: [String]
        var holders: [(id: String, subject: String, expires: String, counts: Bool, problems: [String])]
        if let live {
            let standing = live.standing(card, now: now)
            (required, consented) = (standing.required, standing.consented)
            holders = standing.holders.map { ($0.id, $0.subject, $0.expires, $0.counts, $0.problems) }
        } else if let consent = card.consent {
            (required, consented) = (consent.required, consent.consented)
            holders = consent.holders.map { ($0.id, $0.subject, $0.expires, $0.counts, $0.problems) }
        } else {
            return ""
        }
        guard !holders.isEmpty || required > 1 else { return "" }
        required = max(required, 1)
        var html = "<div class=\"consent\"><p><b>\(consented.count) of \(required) consented</b></p><ul>"
        for holder in holders {
            html += "<li>\(esc(holder.subject)) — <a href=\"/records?q=\(esc(holder.id))\">\(esc(holder.id))</a>, until "
            html += "\(esc(holder.expires)): " + (holder.counts ? "consented" : "does not count (\(esc(holder.problems.joined(separator: ", "))))")
            html += "</li>"
        }
        let missing = max(0, required - consented.count)
        if missing > 0 {
            html += "<li class=\"missing\">Missing: \(missing == 1 ? "one more person" : "\(missing) more people")"
            html += consented.isEmpty ? "" : " (someone other than \(esc(consented.joined(separator: ", "))))"
            html += "</li>"
        }
        return html + "</ul></div>\n"
    }

    static func today(_ settings: OfficeSettings, plus days: Int = 0) -> String {
        CalendarDay(Date().addingTimeInterval(Double(days) * 86_400), in: settings.timeZone).description
    }

    static func authorizeForm(state: OfficeState, asset: String, error: String? = nil) async -> Response {
        guard case .success(let export) = ExportData.load(folder: state.settings.export), let card = export.card(asset),
            card.presentedSha256 != nil
        else { return OfficeServer.page(.notFound, "Not found", "<p>No such picture in the export.</p>") }
        let live = try? LiveRecords.load(state.settings, now: Date()).get()
        let required = live.map { $0.standing(card, now: Date()).required } ?? card.consent?.required ?? 1
        let stamp = CalendarDay(Date(), in: state.settings.timeZone).description.replacingOccurrences(of: "-", with: "")
        var html = error.map { "<p class=\"problem\">\(esc($0))</p>" } ?? ""
        html += cardHTML(card, live: live, now: Date())
        html += """
            <form method="post" action="/authorize" enctype="multipart/form-data">\(hidden(state))
            <input type="hidden" name="asset" value="\(esc(asset))">
            <label>Authorization id <input name="id" required value="AUTH-\(stamp)-\(OfficeServer.randomHex(2).uppercased())"></label>
            <label>Subject reference (pseudonymous, never a name) <input name="subject" required></label>
            <label>Channels (comma-separated) <input name="channels" required value="\(esc(card.channel))"></label>
            <label>People in the picture <input name="people" type="number" min="1" max="100" value="\(required)"></label>
            <label>Effective from <input name="effective" type="date" required value="\(today(state.settings))"></label>
            <label>Expires on <input name="expires" type="date" required></label>
            <label>Signed on <input name="signed_on" type="date" required value="\(today(state.settings))"></label>
            <label>Signed by <select name="signer"><option value="patient">the patient</option>\
            <option value="representative"\(state.settings.defaults.signer == "representative" ? " selected" : "")>\
            a representative</option></select></label>
            <label>Representative's authority (if any) <input name="authority"></label>
            <label>The signed form (scan or PDF) <input name="form" type="file" required></label>
            <button type="submit">Show the record before signing</button>
            </form>
            """
        return ok("Record an authorization", html, state: state)
    }

    static func revokeForm(state: OfficeState, id: String, error: String? = nil) async -> Response {
        var html = error.map { "<p class=\"problem\">\(esc($0))</p>" } ?? ""
        html += """
            <p>Revoking applies from when the written revocation was received; the next run retracts every picture \
            published under it (and its whole supersedes chain).</p>
            <form method="post" action="/revoke" enctype="multipart/form-data">\(hidden(state))
            <label>Authorization id <input name="authorization" required value="\(esc(id))"></label>
            <label>Received at (UTC, YYYY-MM-DDTHH:MM:SSZ) <input name="received_at" required \
            value="\(Timestamp.format(Date()))"></label>
            <label>Only these channels (comma-separated; empty: all) <input name="channels"></label>
            <label>The revocation letter (scan, PDF, e-mail) <input name="letter" type="file" required></label>
            <button type="submit">Show the revocation before signing</button>
            </form>
            """
        return ok("Revoke an authorization", html, state: state)
    }

    /// Records by id or subject reference (any letter case), verified as a run verifies them.
    static func records(state: OfficeState, query: String) async -> Response {
        var html = """
            <form method="get" action="/records"><label>Id or subject reference <input name="q" value="\(esc(query))">\
            </label> <button type="submit">Search</button></form>\n
            """
        let live: LiveRecords
        switch LiveRecords.load(state.settings, now: Date()) {
        case .success(let loaded): live = loaded
        case .failure(let problem):
            return ok("Records", html + "<p class=\"problem\">Records cannot be listed: \(esc(problem.message)).</p>", state: state)
        }
        let needle = query.lowercased()
        let found = live.registry.authorizations.values.compactMap { verified -> Authorization? in
            guard case .authorization(let authorization) = verified.record else { return nil }
            return needle.isEmpty || authorization.id.lowercased().contains(needle)
                || authorization.subject.lowercased().contains(needle) ? authorization : nil
        }.sorted { $0.id < $1.id }
        html += "<table><tr><th>Id</th><th>Subject</th><th>Channels</th><th>Effective</th><th>Expires</th>"
        html += "<th>Pictures</th><th>Signed form</th><th>State</th><th></th></tr>\n"
        let today = CalendarDay(Date(), in: state.settings.timeZone)
        for authorization in found {
            let revocations = live.registry.revocations(affecting: authorization.id)
            let stateText =
                !revocations.isEmpty
                ? "revoked (\(revocations.map(\.id).joined(separator: ", ")))"
                : today >= authorization.expires ? "expired" : today < authorization.effective ? "not yet in effect" : "in force"
            var evidence = "none named"
            if let hash = authorization.form?.documentSHA256 {
                let kept = state.settings.evidence.map { EvidenceFolder.check(hash, in: $0) == nil } ?? false
                evidence = String(hash.prefix(12)) + "… " + (kept ? "(kept in evidence)" : "(not in the evidence folder)")
            }
            html += "<tr><td>\(esc(authorization.id))</td><td>\(esc(authorization.subject))</td>"
            html += "<td>\(esc(authorization.channels.joined(separator: ", ")))</td><td>\(authorization.effective)</td>"
            html += "<td>\(authorization.expires)</td><td>\(authorization.assets.count)</td><td>\(esc(evidence))</td>"
            html += "<td>\(esc(stateText))</td><td>"
            if revocations.isEmpty { html += "<a href=\"/revoke?id=\(esc(authorization.id))\">Revoke</a>" }
            html += "</td></tr>\n"
        }
        html += "</table>\n<p class=\"minor\">\(found.count) authorization(s); \(live.registry.invalid.count) invalid "
        html += "entr\(live.registry.invalid.count == 1 ? "y" : "ies") in the folder.</p>\n"
        for bad in live.registry.invalid {
            html += "<p class=\"problem\">\(esc(bad.displayFile)): \(esc(bad.reason))</p>\n"
        }
        return ok("Records", html, state: state)
    }

    /// What is published now and under which records (from the gate's last run).
    static func live(state: OfficeState) async -> Response {
        guard case .success(let export) = ExportData.load(folder: state.settings.export) else {
            return ok("Live now", "<p class=\"problem\">No export yet.</p>", state: state)
        }
        var html = "<p class=\"minor\">As of the gate's last run (\(esc(export.madeAt))).</p>\n"
        html += "<table><tr><th>Published as</th><th>Since</th><th>Under</th></tr>\n"
        for item in export.live {
            let records = item.records.map { "<a href=\"/records?q=\(esc($0))\">\(esc($0))</a>" }.joined(separator: ", ")
            html += "<tr><td>\(esc(item.publishedName))</td><td>\(esc(item.publishedAt ?? ""))</td><td>\(records)</td></tr>\n"
        }
        html += "</table>\n<p class=\"minor\">\(export.live.count) live publication(s).</p>\n"
        return ok("Live now", html, state: state)
    }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:1.5em;max-width:70em;color:#222;line-height:1.4}
        nav{margin-bottom:1em}nav a{margin:0 .3em}.minor{color:#555;font-size:90%}
        .problem{background:#fdecea;border:1px solid #e0a19a;padding:.5em 1em}.good{color:#1e7d32;font-weight:bold}
        .card{display:flex;gap:1.2em;border:1px solid #ccc;border-left:6px solid #999;border-radius:6px;padding:1em;margin:1em 0}
        .card.pending{border-left-color:#2a7ab0}.card.person{border-left-color:#c0392b}
        .placeholder{width:200px;height:120px;background:#f2f2f2;display:flex;align-items:center;justify-content:center;text-align:center}
        .body{flex:1}.consent{background:#eef5fb;padding:.3em 1em;border-radius:4px}.missing{color:#a12a1e;font-weight:bold}
        form label{display:block;margin:.5em 0}form input,form select{display:block;min-width:24em}
        pre{background:#f6f6f6;border:1px solid #ddd;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}
        a.button,button{background:#2a7ab0;color:#fff;padding:.4em .9em;border:0;border-radius:4px;text-decoration:none;font-size:100%}
        table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
        """
}
