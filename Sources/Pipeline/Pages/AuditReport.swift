import ConsentRecords
import Foundation

/// The audit report: every event with its asset id, hashes and records, as JSON for scripts or as a page a privacy
/// officer reads (reasons in words, what is live now, the real time of each event, a legend).
public enum AuditReport {
    /// The report for a pipeline's ledger, with what is live now and each authorization's expiry (from the records
    /// that verify today; an authorization no longer in the folder shows none).
    public static func make(config: PipelineConfig, html: Bool, now: Date = Date()) throws(PipelineError)
        -> (text: String, events: Int, chainProblems: [String])
    {
        let ledger = try LedgerStores.open(config, create: false)
        defer { ledger.disconnect() }
        let events = try ledger.events(EventQuery(pipeline: config.name))
        let problems = try ledger.verifyChain()
        let live = try ledger.livePublications().values.filter { $0.pipeline == config.name }
        guard html else {
            return (json(pipeline: config.name, events: events, chainProblems: problems, live: live), events.count,
                problems)
        }
        let text = self.html(
            pipeline: config.name, channel: config.channel, events: events, chainProblems: problems, live: live,
            expiries: expiries(config: config, ledger: ledger, now: now), timeZone: config.timeZone, now: now)
        return (text, events.count, problems)
    }

    /// Each authorization's expiry day and when it was revoked, from the records that verify now (empty when they
    /// cannot be read).
    static func expiries(config: PipelineConfig, ledger: any LedgerStore, now: Date) -> [String: String] {
        guard let trust = try? TrustStore.load(path: config.trust) else { return [:] }
        let firstSeen = (try? ledger.recordsFirstSeen()) ?? [:]
        guard
            let registry = try? Registry.load(
                folder: config.authorizations, trust: trust, now: now, timeZone: config.timeZone,
                firstSeen: { _, sha in firstSeen[sha] })
        else { return [:] }
        var notes: [String: String] = [:]
        for (id, verified) in registry.authorizations {
            guard case .authorization(let authorization) = verified.record else { continue }
            let revoked = registry.revocations(affecting: id).filter { $0.receivedAt <= now }.map(\.receivedAt).min()
            notes[id] =
                (revoked.map { "revoked " + PlainWords.time($0, in: config.timeZone) + "; " } ?? "")
                + "expires \(authorization.expires)"
        }
        return notes
    }

    public static func json(
        pipeline: String, events: [LedgerEvent], chainProblems: [String], live: [Ledger.Publication] = []
    ) -> String {
        let rows: [[String: Any]] = events.map { event in
            [
                "seq": event.seq, "at": event.at, "kind": event.kind, "asset": event.asset ?? NSNull(),
                "file_sha256": event.fileSHA256 ?? NSNull(), "presented_sha256": event.contentSHA256 ?? NSNull(),
                "detail": (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) ?? event.detail,
                "hash": event.hash,
            ]
        }
        let report: [String: Any] = [
            "pipeline": pipeline, "chain_intact": chainProblems.isEmpty, "chain_problems": chainProblems,
            "events": rows,
            "live_publications": live.sorted { $0.name < $1.name }.map {
                ["name": $0.name, "asset": $0.asset, "records": $0.records] as [String: Any]
            },
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Kinds that are bookkeeping rather than decisions: counted under the table, listed in the JSON.
    static let bookkeeping: Set<String> = ["claimed", "record_seen"]

    public static func html(
        pipeline: String, channel: String? = nil, events: [LedgerEvent], chainProblems: [String], live: [Ledger.Publication] = [],
        expiries: [String: String] = [:], timeZone: TimeZone = TimeZone(identifier: "UTC")!, now: Date = Date()
    ) -> String {
        let escape = PlainWords.html
        let history = AssetHistory(events: events, live: live, timeZone: timeZone)
        let counts = Dictionary(grouping: events, by: \.kind).mapValues(\.count)
        func authorizations(_ ids: [String]) -> String {
            ids.isEmpty
                ? "—"
                : ids.map { id in
                    escape(id) + (expiries[id].map { " <span class=\"minor\">(\(escape($0)))</span>" } ?? "")
                }.joined(separator: "<br>")
        }
        var page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8">
            <title>ConsentGate audit report: \(escape(pipeline))</title>
            <style>\(style)</style></head><body>
            <h1>Audit report: \(escape(pipeline))</h1>
            <p class="lead">\(chainProblems.isEmpty
                ? "The ledger is intact: no event was edited, deleted or reordered."
                : "<span class=\"broken\">The ledger is BROKEN: events were edited, deleted or reordered (below). Do not trust this history; call the administrator.</span>")
            \(live.count == 1 ? "One picture is" : "\(live.count) pictures are") live now. So far \(counts["published", default: 0] + counts["released", default: 0]) were published, \
            \(counts["quarantined", default: 0]) quarantined and \(counts["retracted", default: 0]) retracted. \
            Times are in \(escape(PlainWords.zoneName(timeZone))); generated \(escape(PlainWords.time(now, in: timeZone))).</p>
            """
        for problem in chainProblems { page += "<p class=\"broken\">\(escape(problem))</p>\n" }
        page += "<h2>Live now</h2>\n"
        if live.isEmpty {
            page += "<p>Nothing from this pipeline is in the publish folder.</p>\n"
        } else {
            page += "<table><tr><th>published file</th><th>since</th><th>authorizations</th></tr>\n"
            for publication in live.sorted(by: { $0.name < $1.name }) {
                let since = history.publishedAt[publication.asset].map { PlainWords.time($0, in: timeZone) } ?? "—"
                page += "<tr><td><code>\(escape(publication.name))</code></td><td class=\"when\">\(escape(since))</td>"
                page += "<td>\(authorizations(publication.records))</td></tr>\n"
            }
            page += "</table>\n"
        }
        page += """
            <h2>Every decision, oldest first</h2>
            <table class="events"><tr><th>when (\(escape(PlainWords.zoneName(timeZone))))</th><th>what happened</th><th>picture</th><th>channel</th><th>authorizations</th>\
            <th>why</th><th>now</th></tr>\n
            """
        for event in events where !bookkeeping.contains(event.kind) {
            let detail = Detail(event.detail)
            let today = event.asset.map { history.state(of: $0) } ?? AssetHistory.State(text: "—", css: "")
            var what = PlainWords.eventTitle(event.kind)
            if let withdrawn = detail.withdrawn { what += " <span class=\"minor\">(\(escape(PlainWords.withdrawn(withdrawn))))</span>" }
            if detail.pending { what += " <span class=\"minor\">(waiting for consent)</span>" }
            if let people = detail.people { what += " <span class=\"minor\">(\(escape(people)))</span>" }
            var picture = "<code title=\"asset id\">\(escape(event.asset.map { String($0.prefix(12)) + "…" } ?? "—"))</code>"
            if let name = detail.publishedName, !name.hasPrefix(event.asset ?? name) {
                let how = event.kind == "duplicate" ? "same picture as" : "as"
                picture += "<br><span class=\"minor\" title=\"\(escape(name))\">\(how) \(escape(PlainWords.shortName(name)))</span>"
            }
            let reasons =
                detail.reasons.isEmpty && event.kind == "duplicate" ? [ReasonCode.duplicate.rawValue] : detail.reasons
            let why = reasons.isEmpty
                ? "—" : reasons.map { "<span title=\"\(escape($0))\">\(escape(PlainWords.reason($0)))</span>" }
                    .joined(separator: "<br>")
            let when = PlainWords.time(event.at, in: timeZone, precise: true)
            page += "<tr class=\"\(escape(event.kind))\"><td class=\"when\">\(escape(when))</td>"
            page += "<td>\(what)</td><td>\(picture)</td><td>\(escape(detail.channel ?? channel ?? "—"))</td>"
            page += "<td>\(authorizations(detail.records))</td><td>\(why)</td><td class=\"\(today.css)\">\(escape(today.text))</td></tr>\n"
        }
        page += "</table>\n"
        let hidden = events.filter { bookkeeping.contains($0.kind) }.count
        if hidden > 0 {
            page += "<p class=\"minor\">Not listed above: \(counts["claimed", default: 0]) claim(s) and "
            page += "\(counts["record_seen", default: 0]) first sighting(s) of a record file (see the legend); "
            page += "<code>consentgate audit report --format json</code> lists every event.</p>\n"
        }
        page += "<h2>What the words mean</h2>\n<dl class=\"legend\">\n"
        for kind in PlainWords.eventKinds {
            page += "<dt>\(PlainWords.eventTitle(kind))</dt><dd>\(escape(PlainWords.eventLegend(kind)))</dd>\n"
        }
        page += """
            <dt>Picture</dt><dd>Pictures are named by an opaque asset id, never by file or patient name; the \
            quarantine review page (consentgate review) shows the original names to the privacy office.</dd>
            <dt>Now</dt><dd>What is true of that picture today: live in the publish folder, retracted later, still \
            in quarantine, or published later after its consent arrived.</dd>
            </dl></body></html>\n
            """
        return page
    }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222;line-height:1.4}
        table{border-collapse:collapse;margin-bottom:1em}table.events{width:100%}td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%;vertical-align:top;text-align:left}
        th{background:#eee}.when{white-space:nowrap}.minor{color:#666;font-size:90%}
        tr.published td:nth-child(2),tr.released td:nth-child(2){color:#060}tr.quarantined td:nth-child(2){color:#a60}
        tr.retracted td:nth-child(2){color:#a00;font-weight:bold}.live{color:#060;font-weight:bold}.gone{color:#a00;font-weight:bold}
        .broken{color:#a00;font-weight:bold}.lead{font-size:105%}code{font-size:85%}
        dl.legend dt{font-weight:bold;margin-top:.5em}dl.legend dd{margin-left:1.5em}
        """

    /// The fields of an event's detail JSON the report shows.
    struct Detail {
        var reasons: [String] = []
        var records: [String] = []
        var channel: String?
        var publishedName: String?
        var withdrawn: String?
        var pending = false
        /// The people count the decision used and its source: "3 people (detector)" (PeopleVisible.swift).
        var people: String?

        init(_ text: String) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                return
            }
            reasons = object["reasons"] as? [String] ?? []
            records = object["records"] as? [String] ?? []
            channel = object["channel"] as? String
            publishedName = object["published_name"] as? String
            withdrawn = object["withdrawn"] as? String
            pending = object["pending"] as? Bool ?? false
            people = (object["people"] as? [String: Any]).flatMap(PeopleSeen.init(people:))?.auditWords
        }
    }
}

/// What became of each asset, replayed from its events: for the "now" column.
struct AssetHistory {
    struct State {
        var text: String
        var css: String
    }

    var latest: [String: LedgerEvent] = [:]
    var publishedAt: [String: String] = [:]
    var liveName: [String: String] = [:]
    let timeZone: TimeZone

    /// Kinds that change where an asset is.
    static let deciding: Set<String> = [
        "published", "released", "quarantined", "retracted", "duplicate", "left", "release_started",
    ]

    init(events: [LedgerEvent], live: [Ledger.Publication], timeZone: TimeZone) {
        self.timeZone = timeZone
        for event in events where Self.deciding.contains(event.kind) {
            guard let asset = event.asset else { continue }
            latest[asset] = event
            if event.kind == "published" || event.kind == "released" { publishedAt[asset] = event.at }
        }
        for publication in live { liveName[publication.asset] = publication.name }
    }

    func state(of asset: String) -> State {
        if liveName[asset] != nil { return State(text: "live now", css: "live") }
        guard let event = latest[asset] else { return State(text: "—", css: "") }
        let when = PlainWords.time(event.at, in: timeZone)
        switch event.kind {
        case "retracted":
            let wasPublished = publishedAt[asset] != nil
            return State(
                text: wasPublished ? "retracted on \(when): no longer published" : "withdrawn on \(when)", css: "gone")
        case "quarantined", "release_started": return State(text: "in quarantine", css: "")
        case "duplicate": return State(text: "not published (a copy of a live picture)", css: "")
        case "left": return State(text: "could not be moved (see the run's summary)", css: "gone")
        default: return State(text: "no longer published", css: "gone")
        }
    }
}

/// Words for a person: reason codes, ledger event kinds and times as a privacy officer reads them. Unknown codes
/// are shown as they are.
public enum PlainWords {
    public static func reason(_ code: String) -> String { ReasonCode(rawValue: code)?.plainWords ?? code }

    /// Every event kind the legend explains, in the order a picture meets them.
    public static let eventKinds: [String] = [
        EventKind.recordSeen, .claimed, .published, .quarantined, .releaseStarted, .released, .duplicate, .retracted,
        .left,
    ].map(\.rawValue)

    public static func eventTitle(_ kind: String) -> String { EventKind(rawValue: kind)?.title ?? kind }

    public static func eventLegend(_ kind: String) -> String { EventKind(rawValue: kind)?.legend ?? kind }

    static func withdrawn(_ how: String) -> String {
        switch how {
        case "moved": return "moved to the retracted folder"
        case "deleted": return "deleted from the publish folder; the original stays in the archive"
        case "missing": return "its file was already gone"
        default: return how
        }
    }

    /// HTML text: every character that could open markup or end an attribute, escaped.
    public static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// A ledger timestamp as a person reads it, in the pipeline's time zone ("3 Mar 2026, 14:05:07 CST").
    /// With `precise`, to the millisecond and without the zone (a table says it once in its heading): one run's
    /// events fall within a second, and their real times still show their order.
    public static func time(_ iso: String, in zone: TimeZone, precise: Bool = false) -> String {
        guard let date = Ledger.parseTimestamp(iso) else { return iso }
        return time(date, in: zone, precise: precise)
    }

    static func time(_ date: Date, in zone: TimeZone, precise: Bool = false) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = precise ? "d MMM yyyy HH:mm:ss.SSS" : "d MMM yyyy, HH:mm:ss"
        return formatter.string(from: date) + (precise ? "" : " " + zoneName(zone, at: date))
    }

    /// "UTC", or the zone's abbreviation ("CST").
    public static func zoneName(_ zone: TimeZone, at date: Date = Date()) -> String {
        zone.secondsFromGMT(for: date) == 0 && ["UTC", "GMT", "Etc/UTC"].contains(zone.identifier)
            ? "UTC" : zone.abbreviation(for: date) ?? zone.identifier
    }

    /// A published name short enough for a table cell ("55952f86b250…jpg"); the full name goes in a tooltip.
    static func shortName(_ name: String) -> String {
        guard name.count > 20, let dot = name.lastIndex(of: ".") else { return name }
        return String(name.prefix(12)) + "…" + String(name[name.index(after: dot)...])
    }

    static func day(_ iso: String, in zone: TimeZone) -> String {
        guard let date = Ledger.parseTimestamp(iso) else { return iso }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEEE d MMMM yyyy"
        return formatter.string(from: date)
    }
}
