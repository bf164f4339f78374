import Foundation
import GRDB

/// The SQLite ledger's decisions table (`PendingState`): kept with the events, read for the pending quarantines.
extension Ledger {
    static let decisionsSchema = """
        CREATE TABLE IF NOT EXISTS decisions (
          pipeline TEXT NOT NULL, asset TEXT NOT NULL, latest_kind TEXT NOT NULL, quarantine_pending INTEGER,
          content_sha256 TEXT, file_sha256 TEXT, quarantined_at TEXT, PRIMARY KEY (pipeline, asset));
        CREATE INDEX IF NOT EXISTS decisions_kind ON decisions(pipeline, latest_kind);
        """

    /// The columns `decision` reads, in its order (by position, as `publicationColumns`).
    static let decisionColumns =
        "asset, pipeline, latest_kind, quarantine_pending, content_sha256, file_sha256, quarantined_at"

    static func decision(_ row: Row) -> PendingState.Row {
        let pending: Int? = row[3]
        return PendingState.Row(
            asset: row[0], pipeline: row[1], latestKind: row[2], quarantinePending: pending.map { $0 != 0 },
            contentSHA256: row[4], fileSHA256: row[5], quarantinedAt: row[6])
    }

    /// What one event changes in the decisions table, in the transaction that appends it.
    static func applyDecision(_ event: LedgerEvent, _ db: Database) throws {
        guard PendingState.concerns(event), let asset = event.asset else { return }
        let before = try Row.fetchOne(
            db, sql: "SELECT \(decisionColumns) FROM decisions WHERE pipeline = ? AND asset = ?",
            arguments: [event.pipeline, asset]
        ).map(Ledger.decision)
        guard let row = PendingState.change(event, before: before) else { return }
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO decisions (pipeline, asset, latest_kind, quarantine_pending, content_sha256,
                  file_sha256, quarantined_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                row.pipeline, row.asset, row.latestKind, row.quarantinePending.map { $0 ? 1 : 0 }, row.contentSHA256,
                row.fileSHA256, row.quarantinedAt,
            ])
    }

    func keptDecisions(_ condition: String = "1", _ arguments: StatementArguments = [])
        throws(PipelineError) -> [PendingState.Row]
    {
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT \(Ledger.decisionColumns) FROM decisions WHERE \(condition)", arguments: arguments
                ).map(Ledger.decision)
            }
        } catch { throw PipelineError("ledger: cannot read the decisions: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func pendingQuarantines(pipeline: String) throws(PipelineError) -> [PendingState.Row] {
        guard readsState else {
            return try replayedDecisions().values.filter { $0.pipeline == pipeline && $0.isPending }
                .sorted { $0.asset < $1.asset }
        }
        return try keptDecisions(
            "pipeline = ? AND latest_kind IN (?, ?) AND quarantine_pending = 1 ORDER BY asset",
            [pipeline, EventKind.quarantined.rawValue, EventKind.releaseStarted.rawValue])
    }

    func decisionProblems() throws(PipelineError) -> [String] {
        guard stateKept.withLock({ $0 }) else { return [] }
        return PendingState.differences(kept: try keptDecisions(), replayed: try replayedDecisions())
    }
}
