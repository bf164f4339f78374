import ConsentRecords
import Foundation

/// Takedowns and lifts in the ledger's memory (`record_seen` events): once seen, a takedown stays in force when its
/// file is deleted or altered; only a valid signed lift ends it, and a lift once seen stays seen.
extension PipelineRecords {
    /// This machine's name (what a withdrawal records as its host with the SQLite ledger; PostgreSQL records
    /// `CONSENTGATE_HOST_ID`).
    static let localHost: String =
        (try? PipelineConfig.hostID(environment: [:], fail: { PipelineError($0) })) ?? "localhost"

    /// What a `record_seen` event keeps of a takedown: its id and selectors (not its free-text reason).
    static func memory(of takedown: Takedown) -> [String: Any] {
        let s = takedown.select
        var kept: [String: Any] = [
            "id": takedown.id, "records": s.records, "subjects": s.subjects, "keys": s.keys,
            "fingerprints": s.fingerprints, "assets": s.assets, "channels": s.channels, "pipelines": s.pipelines,
            "all": s.all,
        ]
        if let from = s.publishedFrom, let to = s.publishedTo {
            kept["published_between"] = [Ledger.timestamp(from), Ledger.timestamp(to)]
        }
        if let at = takedown.recordedAt { kept["recorded_at"] = Ledger.timestamp(at) }
        return kept
    }

    static func memory(of lift: TakedownLift) -> [String: Any] { ["id": lift.id, "takedown": lift.takedown] }

    /// A takedown from its memory; nil when the memory is not one.
    static func takedown(remembered kept: [String: Any]) -> Takedown? {
        guard let id = kept["id"] as? String else { return nil }
        var select = TakedownSelectors()
        select.records = kept["records"] as? [String] ?? []
        select.subjects = kept["subjects"] as? [String] ?? []
        select.keys = kept["keys"] as? [String] ?? []
        select.fingerprints = kept["fingerprints"] as? [String] ?? []
        select.assets = kept["assets"] as? [String] ?? []
        select.channels = kept["channels"] as? [String] ?? []
        select.pipelines = kept["pipelines"] as? [String] ?? []
        select.all = kept["all"] as? Bool ?? false
        if let period = kept["published_between"] as? [String], period.count == 2 {
            select.publishedFrom = Ledger.parseTimestamp(period[0])
            select.publishedTo = Ledger.parseTimestamp(period[1])
        }
        return Takedown(
            id: id, select: select, reason: "remembered by the ledger (its file is gone)",
            recordedAt: (kept["recorded_at"] as? String).flatMap(Ledger.parseTimestamp))
    }

    /// Adds the takedowns and lifts the ledger remembers whose files are gone; returns a sentence for each
    /// takedown that is still in force although its file is gone (a doubt a person must hear of).
    ///
    /// A lift is remembered only from this pipeline's own sightings: pipelines sharing a ledger may trust different
    /// keys, and a lift verified under another pipeline's trust file must not end a takedown here (a takedown
    /// remembered from any pipeline applies: that direction only withdraws).
    static func rememberTakedowns(into registry: inout Registry, ledger: any LedgerStore, pipeline: String)
        throws(PipelineError) -> [String]
    {
        var gone: [String] = []
        for event in try ledger.events(EventQuery(kinds: [.recordSeen], detailContains: "\"takedown_lift\""))
        where event.pipeline == pipeline {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let kept = detail["takedown_lift"] as? [String: Any], let id = kept["id"] as? String,
                let target = kept["takedown"] as? String
            else { continue }
            registry.addRemembered(TakedownLift(id: id, takedown: target))
        }
        for event in try ledger.events(EventQuery(kinds: [.recordSeen], detailContains: "\"takedown\"")) {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let kept = detail["takedown"] as? [String: Any], let takedown = takedown(remembered: kept),
                registry.addRemembered(takedown)
            else { continue }
            if registry.lifts[Registry.fold(takedown.id)] == nil {
                gone.append(
                    "takedown \(takedown.id) (seen on \(event.at)) is no longer in the authorizations folder; it stays "
                        + "in force: only a signed lift (consentgate incident lift) ends it")
            }
        }
        return gone
    }
}
