import Foundation

/// The live publications as state kept beside the events (issue 28): a table that every append changes in the same
/// transaction as the events that change it, so that a run reads what is live without replaying every event.
/// The events stay the truth: `replay` derives the same state from them, `audit verify` compares the two and fails
/// on any difference, and a run whose ledger fails its quick check (`LedgerStore.quickCheck`) replays instead.
public enum LiveState {
    /// What one event changes in the live publications.
    public enum Change: Sendable, Equatable {
        /// `published` / `released` with a published name: this asset is live under that name (any earlier name of
        /// the same asset is not).
        case publish(Ledger.Publication)
        /// `retracted`: the asset is live no more.
        case retract(asset: String)
    }

    /// The change an event makes, or nil for none (the same rules as `replay`).
    public static func change(_ event: LedgerEvent) -> Change? {
        guard let asset = event.asset else { return nil }
        switch event.eventKind {
        case .retracted: return .retract(asset: asset)
        case .published, .released:
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let name = detail["published_name"] as? String else { return nil }
            return .publish(
                Ledger.Publication(
                    asset: asset, pipeline: event.pipeline, name: name, fileSHA256: event.fileSHA256,
                    contentSHA256: event.contentSHA256, records: detail["records"] as? [String] ?? [],
                    publishedSHA256: detail["published_sha256"] as? String,
                    publishedStat: detail["published_stat"] as? String,
                    recordKeys: detail["record_keys"] as? [String] ?? [], publishedAt: Ledger.parseTimestamp(event.at),
                    at: event.at))
        default: return nil
        }
    }

    /// Every live publication (published and not retracted since), by published file name, replayed from the
    /// hash-chained events of every pipeline.
    public static func replay(_ events: [LedgerEvent]) -> [String: Ledger.Publication] {
        var live: [String: Ledger.Publication] = [:]
        var nameOf: [String: String] = [:]
        for event in events {
            switch change(event) {
            case .retract(let asset):
                if let name = nameOf.removeValue(forKey: asset) { live[name] = nil }
            case .publish(let publication):
                if let old = nameOf[publication.asset] { live[old] = nil }
                nameOf[publication.asset] = publication.name
                live[publication.name] = publication
            case nil: continue
            }
        }
        return live
    }

    /// Where the kept table and the replay of the events disagree, in words (empty: they agree).
    public static func differences(kept: [String: Ledger.Publication], replayed: [String: Ledger.Publication])
        -> [String]
    {
        var problems: [String] = []
        for (name, publication) in replayed.sorted(by: { $0.key < $1.key }) {
            guard let row = kept[name] else {
                problems.append("the live publications table lacks \(publication.asset) (\(name)), which the events publish")
                continue
            }
            if row != publication {
                problems.append("the live publications table differs from the events for \(publication.asset) (\(name))")
            }
        }
        for (name, row) in kept.sorted(by: { $0.key < $1.key }) where replayed[name] == nil {
            problems.append("the live publications table lists \(row.asset) (\(name)), which no event keeps live")
        }
        return problems
    }

    /// JSON text for a list of strings (the table's `records` and `record_keys` columns).
    static func encode(_ list: [String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: list, options: [])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The list back from its JSON text (anything else reads as a list that matches no event: `audit verify` says so).
    static func decode(_ text: String) -> [String] {
        if let plain = decodePlain(text) { return plain }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String] ?? ["<unreadable: \(text)>"]
    }

    /// The list as `encode` writes it when no string needs an escape (`["a","b"]`, no spaces), read without the JSON
    /// parser, which costs microseconds a call (a run reads two lists per live publication; issue 28). Nil for
    /// anything else (an escape, a control character, spaces, another shape): the JSON parser reads those.
    static func decodePlain(_ text: String) -> [String]? {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), backslash = UInt8(ascii: "\\")
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else { return nil }
        let end = bytes.count - 1
        var list: [String] = []
        var index = 1
        if index == end { return list }
        while true {
            guard index < end, bytes[index] == quote else { return nil }
            index += 1
            let start = index
            while index < end, bytes[index] != quote {
                guard bytes[index] != backslash, bytes[index] >= 0x20 else { return nil }
                index += 1
            }
            guard index < end else { return nil }
            list.append(String(decoding: bytes[start..<index], as: UTF8.self))
            index += 1
            if index == end { return list }
            guard bytes[index] == comma else { return nil }
            index += 1
        }
    }
}
