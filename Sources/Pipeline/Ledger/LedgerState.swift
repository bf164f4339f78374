import Foundation
import GRDB
import Synchronization

/// The SQLite ledger's state tables (issue 28): the live publications (and the decisions, `LedgerDecisions.swift`,
/// and the records seen, `LedgerSeen.swift`), changed in the same transaction as the
/// events that change them (`append`), made from the events when a ledger from before them is first opened
/// (schema version 1, SQLite's `user_version`), and compared with the events by `verifyChain` (`audit verify`).
extension Ledger {
    /// The schema version of the state tables; a ledger below it is brought up to it on open.
    static let stateVersion = 1

    static let stateSchema = """
        CREATE TABLE IF NOT EXISTS live_publications (
          name TEXT PRIMARY KEY, asset TEXT NOT NULL, pipeline TEXT NOT NULL, file_sha256 TEXT, content_sha256 TEXT,
          records TEXT NOT NULL, published_sha256 TEXT, published_stat TEXT, record_keys TEXT NOT NULL,
          at TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS live_publications_asset ON live_publications(asset);
        CREATE INDEX IF NOT EXISTS live_publications_content ON live_publications(content_sha256);
        """

    /// Creates the state tables, and fills them from the events when the ledger predates them (one transaction:
    /// a kill leaves the old version, and the next open does it again). Only when `migrate` (an open that may
    /// create the ledger: a run, not a dry run, `audit` or a backup's check); otherwise a ledger from before them
    /// is answered from its events. Returns whether the ledger keeps the state tables now.
    static func prepareState(_ db: Database, migrate: Bool) throws -> Bool {
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        guard version < stateVersion else { return true }
        guard migrate else { return false }
        try db.execute(sql: stateSchema + decisionsSchema + seenSchema)
        try db.execute(sql: "DELETE FROM live_publications")
        try db.execute(sql: "DELETE FROM decisions")
        try db.execute(sql: "DELETE FROM records_seen")
        let kinds = ([.published, .released, .retracted, .recordSeen] + QuarantineState.kinds).map {
            "'\($0.rawValue)'"
        }
        let rows = try Row.fetchCursor(
            db, sql: "SELECT * FROM events WHERE kind IN (\(kinds.joined(separator: ", "))) ORDER BY seq")
        while let row = try rows.next() { try applyState(event(row), db) }
        try db.execute(sql: "PRAGMA user_version = \(stateVersion)")
        return true
    }

    /// What one event changes in the state tables, in the transaction that appends it.
    static func applyState(_ event: LedgerEvent, _ db: Database) throws {
        try applyDecision(event, db)
        try applySeen(event, db)
        switch LiveState.change(event) {
        case .retract(let asset):
            try db.execute(sql: "DELETE FROM live_publications WHERE asset = ?", arguments: [asset])
        case .publish(let publication):
            try db.execute(sql: "DELETE FROM live_publications WHERE asset = ?", arguments: [publication.asset])
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO live_publications (name, asset, pipeline, file_sha256, content_sha256,
                      records, published_sha256, published_stat, record_keys, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    publication.name, publication.asset, publication.pipeline, publication.fileSHA256,
                    publication.contentSHA256, LiveState.encode(publication.records), publication.publishedSHA256,
                    publication.publishedStat, LiveState.encode(publication.recordKeys), publication.at,
                ])
        case nil: return
        }
    }

    static func event(_ row: Row) -> LedgerEvent {
        LedgerEvent(
            seq: row["seq"], at: row["at"], pipeline: row["pipeline"], kind: row["kind"], asset: row["asset"],
            fileSHA256: row["file_sha256"], contentSHA256: row["content_sha256"], detail: row["detail"],
            prevHash: row["prev_hash"], hash: row["hash"])
    }

    /// The columns `publication` reads, in its order (by position: a row read by column name costs a search of
    /// the names per column, and a run reads every live publication's row; issue 28).
    static let publicationColumns =
        "name, asset, pipeline, file_sha256, content_sha256, records, published_sha256, published_stat, record_keys, at"

    static func publication(_ row: Row) -> Publication {
        let at: String = row[9]
        return Publication(
            asset: row[1], pipeline: row[2], name: row[0], fileSHA256: row[3], contentSHA256: row[4],
            records: LiveState.decode(row[5]), publishedSHA256: row[6], publishedStat: row[7],
            recordKeys: LiveState.decode(row[8]), publishedAt: Ledger.parseTimestamp(at), at: at)
    }

    /// The live publications table as it is kept.
    func keptLivePublications(_ condition: String = "1", _ arguments: StatementArguments = [])
        throws(PipelineError) -> [Publication]
    {
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT \(Ledger.publicationColumns) FROM live_publications WHERE \(condition)",
                    arguments: arguments
                ).map(Ledger.publication)
            }
        } catch { throw PipelineError("ledger: cannot read the live publications: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func keptLiveNames(pipeline: String, after name: String?, limit: Int) throws(PipelineError) -> [String] {
        do {
            return try queue.read { db in
                try String.fetchAll(
                    db, sql: "SELECT name FROM live_publications WHERE pipeline = ? AND name > ? ORDER BY name LIMIT ?",
                    arguments: [pipeline, name ?? "", max(1, limit)])
            }
        } catch { throw PipelineError("ledger: cannot read the live publications: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func keptLiveContents(pipeline: String) throws(PipelineError) -> Set<String> {
        do {
            return try queue.read { db in
                Set(
                    try String.fetchAll(
                        db,
                        sql: "SELECT content_sha256 FROM live_publications WHERE pipeline = ? AND content_sha256 IS NOT NULL",
                        arguments: [pipeline]))
            }
        } catch { throw PipelineError("ledger: cannot read the live publications: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func livePublications() throws(PipelineError) -> [String: Publication] {
        guard stateTrusted.withLock({ $0 }) else { return try replayedLivePublications() }
        var live: [String: Publication] = [:]
        for publication in try keptLivePublications() { live[publication.name] = publication }
        return live
    }

    public func livePublications(pipeline: String, contentSHA256: String) throws(PipelineError) -> [Publication] {
        guard stateTrusted.withLock({ $0 }) else {
            return try replayedLivePublications().values.filter {
                $0.pipeline == pipeline && $0.contentSHA256 == contentSHA256
            }.sorted { $0.name < $1.name }
        }
        return try keptLivePublications("pipeline = ? AND content_sha256 = ? ORDER BY name", [pipeline, contentSHA256])
    }

    public var readsState: Bool { stateTrusted.withLock { $0 } }

    public func keptLivePublications(named names: [String]) throws(PipelineError) -> [String: Publication] {
        guard !names.isEmpty else { return [:] }
        var found: [String: Publication] = [:]
        let marks = names.map { _ in "?" }.joined(separator: ",")
        for publication in try keptLivePublications("name IN (\(marks))", StatementArguments(names)) {
            found[publication.name] = publication
        }
        return found
    }

    public func keptLivePublications(pipeline: String, after name: String?, limit: Int) throws(PipelineError)
        -> [Publication]
    {
        try keptLivePublications(
            "pipeline = ? AND name > ? ORDER BY name LIMIT \(max(1, limit))", [pipeline, name ?? ""])
    }

    public func keptLivePublication(asset: String) throws(PipelineError) -> Publication? {
        try keptLivePublications("asset = ? LIMIT 1", [asset]).first
    }

    public func distrustState() { stateTrusted.withLock { $0 = false } }

    /// The newest event against the head file, and the number of events against the newest's number.
    public func quickCheck() throws(PipelineError) -> [String] {
        let found: (count: Int64, newest: Int64, hash: String?)
        do {
            found = try queue.read { db in
                let counted = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, MAX(seq) AS newest FROM events")
                let newest: Int64 = counted?["newest"] ?? 0
                let hash = try String.fetchOne(db, sql: "SELECT hash FROM events WHERE seq = ?", arguments: [newest])
                return (counted?["n"] ?? 0, newest, hash)
            }
        } catch { throw PipelineError("ledger: cannot read: \(error)", stage: .ledger) }
        var problems: [String] = []
        if found.count != found.newest {
            problems.append("\(found.newest - found.count) event(s) before event \(found.newest) are missing")
        }
        if let head = readHead() {
            if head.seq > found.newest {
                problems.append(
                    "the newest \(head.seq - found.newest) event(s) are missing: the head file records event "
                        + "\(head.seq), the ledger ends at \(found.newest)")
            } else if head.seq == found.newest && head.hash != found.hash {
                problems.append("event \(head.seq) is not the one the head file recorded")
            }
        }
        return problems
    }

    /// The state tables against the state the events imply.
    func stateProblems() throws(PipelineError) -> [String] {
        guard stateKept.withLock({ $0 }) else { return [] }
        var kept: [String: Publication] = [:]
        for publication in try keptLivePublications() { kept[publication.name] = publication }
        return LiveState.differences(kept: kept, replayed: try replayedLivePublications()) + (try decisionProblems())
            + (try seenProblems())
    }
}
