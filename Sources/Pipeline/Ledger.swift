import ByteKit
import Crypto
import Foundation
import GRDB
import MediaFormats

/// One ledger event. Events are hash-chained: each `hash` covers the previous event's hash and this
/// event's fields, so an edited, deleted or reordered row breaks the chain (`audit verify`).
public struct LedgerEvent: Sendable, Equatable, Codable {
    public var seq: Int64
    public var at: String
    public var pipeline: String
    /// The kind as stored (`EventKind`'s raw value; an edited ledger can hold anything, so it stays text).
    public var kind: String
    /// The kind, when it is one ConsentGate writes.
    public var eventKind: EventKind? { EventKind(rawValue: kind) }
    /// The opaque asset id (never a file name).
    public var asset: String?
    public var fileSHA256: String?
    public var contentSHA256: String?
    /// JSON: reasons, records, published name. Never a person's name.
    public var detail: String
    public var prevHash: String
    public var hash: String

    static func chainHash(
        prev: String, seq: Int64, at: String, pipeline: String, kind: String, asset: String?, file: String?,
        content: String?, detail: String
    ) -> String {
        let fields = [prev, String(seq), at, pipeline, kind, asset ?? "", file ?? "", content ?? "", detail]
        // Length-prefixed, so no two field lists hash alike.
        let text = fields.map { "\($0.utf8.count):\($0)" }.joined(separator: "|")
        return SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// The embedded SQLite ledger (GRDB, WAL): events, and the publications they imply.
public final class Ledger: Sendable {
    let queue: DatabaseQueue
    /// `LEDGER.head`: the newest event's number and hash, written after every append. A hash chain alone cannot
    /// show that its newest events were deleted (what is left still chains); the head can. A missing ledger beside
    /// a head is found the same way.
    let headPath: String
    public static let genesis = String(repeating: "0", count: 64)

    /// Opens (or, with `create`, creates) the ledger. A new ledger file is created with mode 0600 (SQLite gives its
    /// WAL and shared-memory files the same mode). With `create: false` a missing ledger is an error ("no ledger at").
    public init(path: String, create: Bool = true) throws(PipelineError) {
        headPath = path + ".head"
        if !FileIO.exists(path) {
            guard create else { throw PipelineError("no ledger at \(path)", exitCode: 1) }
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if fd >= 0 { close(fd) }
        }
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode=WAL") }
            try queue.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS events (
                          seq INTEGER PRIMARY KEY, at TEXT NOT NULL, pipeline TEXT NOT NULL, kind TEXT NOT NULL,
                          asset TEXT, file_sha256 TEXT, content_sha256 TEXT, detail TEXT NOT NULL,
                          prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
                        CREATE INDEX IF NOT EXISTS events_asset ON events(asset);
                        CREATE INDEX IF NOT EXISTS events_kind ON events(kind);
                        CREATE TABLE IF NOT EXISTS observations (
                          entry TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime TEXT NOT NULL, first_seen REAL NOT NULL,
                          failures INTEGER NOT NULL DEFAULT 0);
                        """)
            }
        } catch { throw PipelineError("ledger \(path): \(error)", exitCode: 3, stage: .ledger) }
    }

    /// Appends an event in one transaction. What is published is derived from these events alone (see
    /// `livePublications`), so the hash chain covers it.
    @discardableResult
    public func append(
        pipeline: String, kind eventKind: EventKind, asset: String?, fileSHA256: String?, contentSHA256: String?,
        detail: [String: Any]
    ) throws(PipelineError) -> LedgerEvent {
        let detailText: String
        do {
            detailText = String(
                decoding: try JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys]), as: UTF8.self)
        } catch { throw PipelineError("ledger: detail is not JSON: \(error)", stage: .ledger) }
        // The real time of the event (a run decides as of one moment, but its events happen one after another).
        let at = Self.timestamp(Date())
        let kind = eventKind.rawValue
        let event: LedgerEvent
        do {
            event = try queue.write { db -> LedgerEvent in
                let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
                let seq: Int64 = (last?["seq"] as Int64? ?? 0) + 1
                let prev: String = last?["hash"] ?? Ledger.genesis
                let hash = LedgerEvent.chainHash(
                    prev: prev, seq: seq, at: at, pipeline: pipeline, kind: kind, asset: asset, file: fileSHA256,
                    content: contentSHA256, detail: detailText)
                try db.execute(
                    sql: """
                        INSERT INTO events (seq, at, pipeline, kind, asset, file_sha256, content_sha256, detail, prev_hash, hash)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [seq, at, pipeline, kind, asset, fileSHA256, contentSHA256, detailText, prev, hash])
                return LedgerEvent(
                    seq: seq, at: at, pipeline: pipeline, kind: kind, asset: asset, fileSHA256: fileSHA256,
                    contentSHA256: contentSHA256, detail: detailText, prevHash: prev, hash: hash)
            }
        } catch { throw PipelineError("ledger: cannot append: \(error)", exitCode: 3, stage: .ledger) }
        writeHead(event)
        return event
    }

    /// Records the newest event as the head (see `headPath`).
    func writeHead(_ event: LedgerEvent) {
        let text = Array("\(event.seq) \(event.hash)\n".utf8)
        let fd = open(headPath, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, text.count, 0) }
        _ = ftruncate(fd, off_t(text.count))
        close(fd)
    }

    /// What the head file says (nil when there is none: a ledger from before heads were kept).
    func readHead() -> (seq: Int64, hash: String)? {
        guard let text = try? String(contentsOfFile: headPath, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let seq = Int64(parts[0]) else { return nil }
        return (seq, String(parts[1]))
    }

    /// The last event of a kind for an asset, if any.
    public func lastEvent(asset: String, kinds: [EventKind]) throws(PipelineError) -> LedgerEvent? {
        try events(
            where: "asset = ? AND kind IN (\(kinds.map { _ in "?" }.joined(separator: ",")))",
            [asset] + kinds.map(\.rawValue))
            .last
    }

    public func events(where condition: String = "1", _ arguments: [String] = []) throws(PipelineError) -> [LedgerEvent]
    {
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM events WHERE \(condition) ORDER BY seq",
                    arguments: StatementArguments(arguments)
                )
                .map { row in
                    LedgerEvent(
                        seq: row["seq"], at: row["at"], pipeline: row["pipeline"], kind: row["kind"],
                        asset: row["asset"],
                        fileSHA256: row["file_sha256"], contentSHA256: row["content_sha256"], detail: row["detail"],
                        prevHash: row["prev_hash"], hash: row["hash"])
                }
            }
        } catch { throw PipelineError("ledger: cannot read: \(error)", stage: .ledger) }
    }

    public struct Publication: Sendable {
        public var asset: String
        public var pipeline: String
        public var name: String
        public var fileSHA256: String?
        public var contentSHA256: String?
        public var records: [String]
        /// SHA-256 of the published (sanitized) file, and what stat said of it right after it was published.
        public var publishedSHA256: String?
        public var publishedStat: String?
    }

    /// Every live publication (published and not retracted since), by published file name, replayed from the
    /// hash-chained events of every pipeline: a deleted or edited event breaks the chain, and no side table can
    /// keep a picture published. Renaming a pipeline changes nothing here.
    public func livePublications() throws(PipelineError) -> [String: Publication] {
        var live: [String: Publication] = [:]
        var nameOf: [String: String] = [:]
        for event in try events(where: "kind IN ('published', 'released', 'retracted')") {
            guard let asset = event.asset else { continue }
            if event.eventKind == .retracted {
                if let name = nameOf.removeValue(forKey: asset) { live[name] = nil }
                continue
            }
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let name = detail["published_name"] as? String else { continue }
            if let old = nameOf[asset] { live[old] = nil }
            nameOf[asset] = name
            live[name] = Publication(
                asset: asset, pipeline: event.pipeline, name: name, fileSHA256: event.fileSHA256,
                contentSHA256: event.contentSHA256, records: detail["records"] as? [String] ?? [],
                publishedSHA256: detail["published_sha256"] as? String, publishedStat: detail["published_stat"] as? String)
        }
        return live
    }

    /// When each record file (by the SHA-256 of its bytes) was first seen, from the `record_seen` events.
    public func recordsFirstSeen() throws(PipelineError) -> [String: Date] {
        var seen: [String: Date] = [:]
        for event in try events(where: "kind = 'record_seen'") {
            guard let sha = event.fileSHA256, seen[sha] == nil, let date = Ledger.parseTimestamp(event.at) else {
                continue
            }
            seen[sha] = date
        }
        return seen
    }

    /// Settling (SPEC §2): the size and mtime an inbox entry had when first seen with them, and when that was.
    /// Not chained: it is a cache of observations, and losing it only makes a file wait one more look.
    public struct Observation: Sendable, Equatable {
        public var size: Int64
        public var mtime: String
        public var firstSeen: Date
        public var failures: Int
    }

    public func observation(_ entry: String) throws(PipelineError) -> Observation? {
        do {
            return try queue.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM observations WHERE entry = ?", arguments: [entry]).map {
                    Observation(
                        size: $0["size"], mtime: $0["mtime"], firstSeen: Date(timeIntervalSince1970: $0["first_seen"]),
                        failures: $0["failures"])
                }
            }
        } catch { throw PipelineError("ledger: cannot read observations: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func observe(_ entry: String, _ observation: Observation?) throws(PipelineError) {
        do {
            try queue.write { db in
                if let observation {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO observations (entry, size, mtime, first_seen, failures) VALUES (?, ?, ?, ?, ?)",
                        arguments: [
                            entry, observation.size, observation.mtime, observation.firstSeen.timeIntervalSince1970,
                            observation.failures,
                        ])
                } else {
                    try db.execute(sql: "DELETE FROM observations WHERE entry = ?", arguments: [entry])
                }
            }
        } catch { throw PipelineError("ledger: cannot record an observation: \(error)", exitCode: 3, stage: .ledger) }
    }

    /// Recomputes the chain. Returns the problems found (empty: intact).
    public func verifyChain() throws(PipelineError) -> [String] {
        var problems: [String] = []
        var prev = Ledger.genesis
        var expectedSeq: Int64 = 1
        let all = try events()
        if let head = readHead() {
            if let last = all.last, last.seq >= head.seq {
                if let event = all.first(where: { $0.seq == head.seq }), event.hash != head.hash {
                    problems.append("event \(head.seq) is not the one the head file recorded")
                }
            } else {
                problems.append(
                    "the newest \(head.seq - (all.last?.seq ?? 0)) event(s) are missing: the head file records event "
                        + "\(head.seq), the ledger ends at \(all.last?.seq ?? 0)")
            }
        }
        for event in all {
            if event.seq != expectedSeq { problems.append("event \(expectedSeq) is missing (next is \(event.seq))") }
            if event.prevHash != prev { problems.append("event \(event.seq) does not follow the event before it") }
            let hash = LedgerEvent.chainHash(
                prev: event.prevHash, seq: event.seq, at: event.at, pipeline: event.pipeline, kind: event.kind,
                asset: event.asset,
                file: event.fileSHA256, content: event.contentSHA256, detail: event.detail)
            if hash != event.hash { problems.append("event \(event.seq) was edited (its hash does not match)") }
            prev = event.hash
            expectedSeq = event.seq + 1
        }
        return problems
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
