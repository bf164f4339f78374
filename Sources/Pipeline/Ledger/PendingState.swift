import Foundation

/// The decisions behind pending quarantines as state kept beside the events (issue 28), like `LiveState`: one row
/// per pipeline and asset with a decision event, holding the kind of its latest one and its latest quarantine
/// (whether recorded as pending, its fingerprints and time). A pending quarantine is a row whose latest decision
/// is a quarantine or a release a kill interrupted, and whose quarantine was pending; the age limit
/// (`pending_days`) is applied when it is read, as the replay does.
public enum PendingState {
    public struct Row: Sendable, Equatable {
        public var asset: String
        public var pipeline: String
        public var latestKind: String
        /// The latest quarantine (nil: the asset was never quarantined in this pipeline).
        public var quarantinePending: Bool?
        public var contentSHA256: String?
        public var fileSHA256: String?
        public var quarantinedAt: String?

        /// Whether the row is a pending quarantine (before the age limit).
        public var isPending: Bool {
            (latestKind == EventKind.quarantined.rawValue || latestKind == EventKind.releaseStarted.rawValue)
                && quarantinePending == true
        }
    }

    /// What one event changes: its row after it, given the row before it (nil: none yet); nil for no change.
    public static func change(_ event: LedgerEvent, before: Row?) -> Row? {
        guard let asset = event.asset, let kind = event.eventKind, QuarantineState.kinds.contains(kind) else {
            return nil
        }
        var row =
            before
            ?? Row(
                asset: asset, pipeline: event.pipeline, latestKind: kind.rawValue, quarantinePending: nil,
                contentSHA256: nil, fileSHA256: nil, quarantinedAt: nil)
        row.latestKind = kind.rawValue
        if kind == .quarantined {
            row.quarantinePending = QuarantineState.isPending(event)
            row.contentSHA256 = event.contentSHA256
            row.fileSHA256 = event.fileSHA256
            row.quarantinedAt = event.at
        }
        return row
    }

    /// Whether an event changes a row (so the row before it must be read).
    public static func concerns(_ event: LedgerEvent) -> Bool {
        guard event.asset != nil, let kind = event.eventKind else { return false }
        return QuarantineState.kinds.contains(kind)
    }

    static func key(pipeline: String, asset: String) -> String { pipeline + "\n" + asset }

    /// The rows replayed from the events, by pipeline and asset.
    public static func replay(_ events: [LedgerEvent]) -> [String: Row] {
        var rows: [String: Row] = [:]
        for event in events {
            guard let asset = event.asset else { continue }
            let key = key(pipeline: event.pipeline, asset: asset)
            if let row = change(event, before: rows[key]) { rows[key] = row }
        }
        return rows
    }

    /// Where the kept table and the replay disagree, in words (empty: they agree).
    public static func differences(kept: [Row], replayed: [String: Row]) -> [String] {
        var problems: [String] = []
        var keptByKey: [String: Row] = [:]
        for row in kept { keptByKey[key(pipeline: row.pipeline, asset: row.asset)] = row }
        for (key, row) in replayed.sorted(by: { $0.key < $1.key }) {
            guard let keptRow = keptByKey[key] else {
                problems.append("the decisions table lacks \(row.asset) (\(row.pipeline)), which the events decide")
                continue
            }
            if keptRow != row {
                problems.append("the decisions table differs from the events for \(row.asset) (\(row.pipeline))")
            }
        }
        for (key, row) in keptByKey.sorted(by: { $0.key < $1.key }) where replayed[key] == nil {
            problems.append("the decisions table lists \(row.asset) (\(row.pipeline)), which no event decides")
        }
        return problems
    }
}
