import ConsentRecords
import Foundation

/// `incident report ID`: the timeline a breach notification needs, from the ledger.
public struct IncidentTimeline: Sendable {
    public var takedown: Takedown
    public var lifted: Bool
    /// (time, what happened), oldest first.
    public var items: [(at: String, what: String)]
    /// Every publication the takedown selects, whenever withdrawn.
    public var scope: IncidentScope
    /// Publications it selects that are still live (should be none unless lifted).
    public var stillLive: [IncidentScope.Entry] { scope.entries.filter(\.live) }

    public static func make(id: String, ledger: any LedgerStore, registry: Registry, now: Date) throws(PipelineError)
        -> IncidentTimeline
    {
        let folded = Registry.fold(id)
        guard let takedown = registry.takedowns[folded] else {
            throw PipelineError(
                "no takedown \(id) in the authorizations folder or the ledger's memory (is it signed by a key with "
                    + "the role takedown, and has a pipeline run since it was written?)", exitCode: 2)
        }
        let scope = try IncidentScope.make(selectors: takedown.select, ledger: ledger, registry: registry, now: now)
        var items: [(at: String, what: String)] = []
        if let at = takedown.recordedAt {
            items.append((Ledger.timestamp(at), "takedown \(takedown.id) signed: \(takedown.select.words)"))
        }
        for event in try ledger.events(EventQuery(kinds: [.recordSeen], detailContains: "\"takedown")) {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            if let kept = detail["takedown"] as? [String: Any], let seen = kept["id"] as? String,
                Registry.fold(seen) == folded
            {
                items.append(
                    (event.at, "takedown \(seen) recorded in the ledger (first seen by pipeline \(event.pipeline))"))
            }
            if let kept = detail["takedown_lift"] as? [String: Any], let target = kept["takedown"] as? String,
                Registry.fold(target) == folded
            {
                items.append((event.at, "lift \(kept["id"] as? String ?? "?") recorded: the takedown ends"))
            }
        }
        for entry in scope.entries {
            guard let at = entry.withdrawnAt else { continue }
            let byTakedown = entry.withdrawnReasons.contains(ReasonCode.takenDown.rawValue)
            let how =
                byTakedown
                ? "withdrawn by the takedown" : "withdrawn (\(entry.withdrawnReasons.joined(separator: ", ")))"
            items.append(
                (
                    at,
                    "\(entry.asset) (\(entry.pipeline)/\(entry.channel ?? "?")) \(how)"
                        + (entry.withdrawnOnHost.map { " on host \($0)" } ?? "")
                ))
        }
        for entry in scope.entries where entry.live {
            items.append(
                (Ledger.timestamp(now), "STILL PUBLISHED: \(entry.asset) (\(entry.pipeline)/\(entry.channel ?? "?"))"))
        }
        items.sort { $0.at < $1.at }
        return IncidentTimeline(
            takedown: takedown, lifted: registry.lifts[folded] != nil, items: items, scope: scope)
    }

    public func json(now: Date) -> String {
        let object: [String: Any] = [
            "takedown": takedown.id, "selectors": takedown.select.words, "lifted": lifted,
            "timeline": items.map { ["at": $0.at, "what": $0.what] },
            "still_published": stillLive.map(\.asset), "ledger_intact": scope.chainProblems.isEmpty,
            "ledger_problems": scope.chainProblems, "generated_at": Ledger.timestamp(now),
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public func html(timeZone: TimeZone, now: Date) -> String {
        let state =
            lifted
            ? "It has been lifted."
            : (stillLive.isEmpty
                ? "Nothing it selects is published now."
                : "\(stillLive.count) publication(s) it selects are STILL PUBLISHED (the pipelines have not run since?).")
        return scope.html(
            title: "Incident report: takedown \(takedown.id)",
            intro: "Reason: \(takedown.reason). \(state)", timeline: items, timeZone: timeZone, now: now)
    }
}
