import Crypto
import Foundation
import GRDB

/// One ledger event. Events are hash-chained: each `hash` covers the previous event's hash and this
/// event's fields, so an edited, deleted or reordered row breaks the chain (`audit verify`).
public struct LedgerEvent: Sendable, Equatable, Codable {
    public var seq: Int64
    public var at: String
    public var pipeline: String
    /// claimed, decided, published, quarantined, retracted, left
    public var kind: String
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
    public static let genesis = String(repeating: "0", count: 64)

    public init(path: String) throws(PipelineError) {
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
                        CREATE TABLE IF NOT EXISTS publications (
                          asset TEXT PRIMARY KEY, pipeline TEXT NOT NULL, channel TEXT NOT NULL,
                          published_name TEXT NOT NULL, file_sha256 TEXT, content_sha256 TEXT, records TEXT NOT NULL,
                          published_at TEXT NOT NULL, retracted_at TEXT);
                        """)
            }
        } catch { throw PipelineError("ledger \(path): \(error)") }
    }

    /// Appends an event (and, for publish/retract, updates publications) in one transaction.
    @discardableResult
    public func append(
        pipeline: String, kind: String, asset: String?, fileSHA256: String?, contentSHA256: String?,
        detail: [String: Any],
        publication: (channel: String, name: String, records: [String])? = nil, now: Date = Date()
    ) throws(PipelineError) -> LedgerEvent {
        let detailText: String
        do {
            detailText = String(
                decoding: try JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys]), as: UTF8.self)
        } catch { throw PipelineError("ledger: detail is not JSON: \(error)") }
        let at = Self.timestamp(now)
        do {
            return try queue.write { db -> LedgerEvent in
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
                if kind == "published", let publication, let asset {
                    try db.execute(
                        sql: """
                            INSERT OR REPLACE INTO publications
                            (asset, pipeline, channel, published_name, file_sha256, content_sha256, records, published_at, retracted_at)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)
                            """,
                        arguments: [
                            asset, pipeline, publication.channel, publication.name, fileSHA256, contentSHA256,
                            publication.records.joined(separator: ","), at,
                        ])
                }
                if kind == "retracted", let asset {
                    try db.execute(
                        sql: "UPDATE publications SET retracted_at = ? WHERE asset = ?", arguments: [at, asset])
                }
                return LedgerEvent(
                    seq: seq, at: at, pipeline: pipeline, kind: kind, asset: asset, fileSHA256: fileSHA256,
                    contentSHA256: contentSHA256, detail: detailText, prevHash: prev, hash: hash)
            }
        } catch { throw PipelineError("ledger: cannot append: \(error)") }
    }

    /// The last event of a kind for an asset, if any.
    public func lastEvent(asset: String, kinds: [String]) throws(PipelineError) -> LedgerEvent? {
        try events(where: "asset = ? AND kind IN (\(kinds.map { _ in "?" }.joined(separator: ",")))", [asset] + kinds)
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
        } catch { throw PipelineError("ledger: cannot read: \(error)") }
    }

    public struct Publication: Sendable {
        public var asset: String
        public var name: String
        public var fileSHA256: String?
        public var contentSHA256: String?
        public var records: [String]
    }

    /// Published assets of a pipeline not yet retracted.
    public func livePublications(pipeline: String) throws(PipelineError) -> [Publication] {
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM publications WHERE pipeline = ? AND retracted_at IS NULL ORDER BY asset",
                    arguments: [pipeline]
                ).map { row in
                    Publication(
                        asset: row["asset"], name: row["published_name"], fileSHA256: row["file_sha256"],
                        contentSHA256: row["content_sha256"],
                        records: (row["records"] as String).split(separator: ",").map(String.init))
                }
            }
        } catch { throw PipelineError("ledger: cannot read publications: \(error)") }
    }

    /// Recomputes the chain. Returns the problems found (empty: intact).
    public func verifyChain() throws(PipelineError) -> [String] {
        var problems: [String] = []
        var prev = Ledger.genesis
        var expectedSeq: Int64 = 1
        for event in try events() {
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

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
