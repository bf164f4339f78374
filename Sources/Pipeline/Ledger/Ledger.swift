import ByteKit
import Crypto
import Foundation
import GRDB
import MediaFormats
import Synchronization

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
public final class Ledger: LedgerStore {
    let queue: DatabaseQueue
    /// `LEDGER.head`: the newest event's number and hash, written after every append. A hash chain alone cannot
    /// show that its newest events were deleted (what is left still chains); the head can. A missing ledger beside
    /// a head is found the same way.
    let headPath: String
    /// Whether runs read the state tables (false: everything is replayed from the events; see `distrustState`).
    let stateTrusted = Mutex(true)
    /// Whether this ledger keeps the state tables (false: one from before them, opened without `create`).
    let stateKept = Mutex(true)
    public static let genesis = String(repeating: "0", count: 64)

    /// Whether a ledger file is at `path`; a path that cannot be examined (a folder this account may not enter) is
    /// an error that names it, never "no ledger".
    static func exists(_ path: String) throws(PipelineError) -> Bool {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard access(path, R_OK | W_OK) == 0 else {
                throw PipelineError(
                    "cannot open the ledger at \(path): \(String(cString: strerror(errno))) (run this as the account "
                        + "that runs the pipeline)", exitCode: 2)
            }
            return true
        }
        if errno == ENOENT { return false }
        throw PipelineError(
            "cannot reach the ledger at \(path): \(String(cString: strerror(errno))) (run this as the account that "
                + "runs the pipeline)", exitCode: 2)
    }

    /// Opens (or, with `create`, creates) the ledger. A new ledger file is created with mode 0600 (SQLite gives its
    /// WAL and shared-memory files the same mode). With `create: false` a missing ledger is an error ("no ledger at").
    public init(path: String, create: Bool = true) throws(PipelineError) {
        headPath = path + ".head"
        if try !Ledger.exists(path) {
            guard create else { throw PipelineError("no ledger at \(path)", exitCode: 1) }
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if fd >= 0 { close(fd) }
        }
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode=WAL") }
            let kept = try queue.write { db -> Bool in
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
                        """ + Ledger.signaturesSchema)
                return try Ledger.prepareState(db, migrate: create)
            }
            if !kept {
                stateKept.withLock { $0 = false }
                stateTrusted.withLock { $0 = false }
            }
        } catch { throw PipelineError("ledger \(path): \(error)", exitCode: 3, stage: .ledger) }
    }

    /// Appends events in one transaction, chained in order. What is published is derived from these events alone
    /// (see `livePublications`), so the hash chain covers it.
    @discardableResult
    public func append(batch: [NewLedgerEvent]) throws(PipelineError) -> [LedgerEvent] {
        if batch.isEmpty { return [] }
        // The real time of each event (a run decides as of one moment, but its events happen one after another).
        let at = Self.timestamp(Date())
        let stored: [LedgerEvent]
        let kept = stateKept.withLock { $0 }
        do {
            stored = try queue.write { db -> [LedgerEvent] in
                let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
                var seq: Int64 = last?["seq"] as Int64? ?? 0
                var prev: String = last?["hash"] ?? Ledger.genesis
                var stored: [LedgerEvent] = []
                for new in batch {
                    seq += 1
                    let event = new.chained(seq: seq, prev: prev, at: at)
                    try Ledger.insert(event, into: db)
                    if kept { try Ledger.applyState(event, db) }
                    stored.append(event)
                    prev = event.hash
                }
                return stored
            }
        } catch { throw PipelineError("ledger: cannot append: \(error)", exitCode: 3, stage: .ledger) }
        if let newest = stored.last { writeHead(newest) }
        return stored
    }

    static func insert(_ event: LedgerEvent, into db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO events (seq, at, pipeline, kind, asset, file_sha256, content_sha256, detail, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.seq, event.at, event.pipeline, event.kind, event.asset, event.fileSHA256, event.contentSHA256,
                event.detail, event.prevHash, event.hash,
            ])
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

    public func events(_ query: EventQuery) throws(PipelineError) -> [LedgerEvent] {
        var conditions: [String] = []
        var arguments: [String] = []
        if let pipeline = query.pipeline {
            conditions.append("pipeline = ?")
            arguments.append(pipeline)
        }
        if let asset = query.asset {
            conditions.append("asset = ?")
            arguments.append(asset)
        }
        if let kinds = query.kinds {
            // With an asset, its index finds its few events; "+kind" keeps SQLite from choosing the kind's index
            // instead, which scans every event of that kind (5.8 ms against 0.03 ms at 100,000 events: issue 28).
            let column = query.asset == nil ? "kind" : "+kind"
            conditions.append("\(column) IN (\(kinds.map { _ in "?" }.joined(separator: ",")))")
            arguments += kinds.map(\.rawValue)
        }
        if let text = query.detailContains {
            conditions.append("instr(detail, ?) > 0")
            arguments.append(text)
        }
        let condition = conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM events WHERE \(condition) ORDER BY seq",
                    arguments: StatementArguments(arguments)
                )
                .map(Ledger.event)
            }
        } catch { throw PipelineError("ledger: cannot read: \(error)", stage: .ledger) }
    }

    public struct Publication: Sendable, Equatable {
        public var asset: String
        public var pipeline: String
        public var name: String
        public var fileSHA256: String?
        public var contentSHA256: String?
        public var records: [String]
        /// SHA-256 of the published (sanitized) file, and what stat said of it right after it was published.
        public var publishedSHA256: String?
        public var publishedStat: String?
        /// The keys that signed `records` (recorded since incident response; empty before).
        public var recordKeys: [String] = []
        /// When it was published (its event's time).
        public var publishedAt: Date?
        /// Its event's time as the event records it.
        public var at: String = ""
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

    /// Recomputes the chain, and the state tables from the events. Returns the problems found (empty: intact).
    public func verifyChain() throws(PipelineError) -> [String] {
        ChainCheck.problems(try events(), head: readHead(), headName: "the head file") + (try stateProblems())
    }

    /// Every observation, for `ledger migrate`.
    public func allObservations() throws(PipelineError) -> [(entry: String, observation: Observation)] {
        do {
            return try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM observations ORDER BY entry").map {
                    (
                        $0["entry"],
                        Observation(
                            size: $0["size"], mtime: $0["mtime"],
                            firstSeen: Date(timeIntervalSince1970: $0["first_seen"]), failures: $0["failures"])
                    )
                }
            }
        } catch { throw PipelineError("ledger: cannot read observations: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func disconnect() {}

    /// One formatter, made once (making one costs far more than using it: a run reads a time per live
    /// publication), used under a lock.
    static let formatter: Mutex<ISO8601DateFormatter> = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return Mutex(formatter)
    }()

    static func parseTimestamp(_ text: String) -> Date? {
        LedgerTime.parse(text) ?? formatter.withLock { $0.date(from: text) }
    }

    static func timestamp(_ date: Date) -> String {
        formatter.withLock { $0.string(from: date) }
    }
}
