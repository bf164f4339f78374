import Foundation

/// When ConsentGate first saw each record file (by its bytes' SHA-256) as state kept beside the events (issue 28),
/// like `LiveState`: the time of the first `record_seen` event of those bytes.
public enum SeenState {
    /// The record file's SHA-256 and the event's time, for a `record_seen` event.
    public static func change(_ event: LedgerEvent) -> (sha256: String, at: String)? {
        guard event.eventKind == .recordSeen, let sha = event.fileSHA256 else { return nil }
        return (sha, event.at)
    }

    /// The first time of each record file's bytes, replayed from the events.
    public static func replay(_ events: [LedgerEvent]) -> [String: String] {
        var seen: [String: String] = [:]
        for event in events {
            guard let (sha, at) = change(event), seen[sha] == nil else { continue }
            seen[sha] = at
        }
        return seen
    }

    /// The times as dates (an unreadable time counts as not seen, as the replay always did).
    public static func dates(_ seen: [String: String]) -> [String: Date] {
        var dates: [String: Date] = [:]
        for (sha, at) in seen {
            if let date = Ledger.parseTimestamp(at) { dates[sha] = date }
        }
        return dates
    }

    /// Where the kept table and the replay disagree, in words (empty: they agree).
    public static func differences(kept: [String: String], replayed: [String: String]) -> [String] {
        var problems: [String] = []
        for (sha, at) in replayed.sorted(by: { $0.key < $1.key }) where kept[sha] != at {
            problems.append(
                kept[sha] == nil
                    ? "the records seen table lacks the record file \(sha), which the events saw"
                    : "the records seen table differs from the events for the record file \(sha)")
        }
        for sha in kept.keys.sorted() where replayed[sha] == nil {
            problems.append("the records seen table lists the record file \(sha), which no event saw")
        }
        return problems
    }
}
