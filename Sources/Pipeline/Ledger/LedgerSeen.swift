import Foundation
import GRDB

/// The SQLite ledger's records seen table (`SeenState`): kept with the events, read for first-seen times.
extension Ledger {
    static let seenSchema = """
        CREATE TABLE IF NOT EXISTS records_seen (file_sha256 TEXT PRIMARY KEY, at TEXT NOT NULL);
        """

    static func applySeen(_ event: LedgerEvent, _ db: Database) throws {
        guard let (sha, at) = SeenState.change(event) else { return }
        try db.execute(sql: "INSERT OR IGNORE INTO records_seen (file_sha256, at) VALUES (?, ?)", arguments: [sha, at])
    }

    func keptRecordsSeen() throws(PipelineError) -> [String: String] {
        do {
            return try queue.read { db in
                var seen: [String: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT file_sha256, at FROM records_seen") {
                    seen[row["file_sha256"]] = row["at"]
                }
                return seen
            }
        } catch { throw PipelineError("ledger: cannot read the records seen: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func recordsFirstSeen() throws(PipelineError) -> [String: Date] {
        SeenState.dates(readsState ? try keptRecordsSeen() : try replayedRecordsSeen())
    }

    public func lastRecordSeenSeq() throws(PipelineError) -> Int64? {
        do {
            return try queue.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT COALESCE(MAX(seq), 0) FROM events WHERE kind = ?",
                    arguments: [EventKind.recordSeen.rawValue])
            }
        } catch { throw PipelineError("ledger: cannot read the newest record_seen event: \(error)", exitCode: 3, stage: .ledger) }
    }

    func seenProblems() throws(PipelineError) -> [String] {
        guard stateKept.withLock({ $0 }) else { return [] }
        return SeenState.differences(kept: try keptRecordsSeen(), replayed: try replayedRecordsSeen())
    }
}
