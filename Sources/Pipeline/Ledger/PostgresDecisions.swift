#if PostgreSQL
import Foundation
import PostgresNIO

/// The PostgreSQL ledger's decisions table (`PendingState`), as the SQLite ledger's (`LedgerDecisions.swift`).
extension PostgresLedger {
    static let decisionStatements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS consentgate.decisions (
          pipeline TEXT NOT NULL, asset TEXT NOT NULL, latest_kind TEXT NOT NULL, quarantine_pending BOOLEAN,
          content_sha256 TEXT, file_sha256 TEXT, quarantined_at TEXT, PRIMARY KEY (pipeline, asset))
        """,
        "CREATE INDEX IF NOT EXISTS decisions_kind ON consentgate.decisions (pipeline, latest_kind)",
    ]

    static let decisionColumns =
        "asset, pipeline, latest_kind, quarantine_pending, content_sha256, file_sha256, quarantined_at"

    static func decision(_ row: PostgresRow) throws -> PendingState.Row {
        let cells = row.makeRandomAccess()
        return PendingState.Row(
            asset: try cells[0].decode(String.self), pipeline: try cells[1].decode(String.self),
            latestKind: try cells[2].decode(String.self), quarantinePending: try cells[3].decode(Bool?.self),
            contentSHA256: try cells[4].decode(String?.self), fileSHA256: try cells[5].decode(String?.self),
            quarantinedAt: try cells[6].decode(String?.self))
    }

    /// What one event changes in the decisions table, in the transaction that appends it.
    static func applyDecision(_ event: LedgerEvent, _ run: PostgresBridge.Session) throws {
        guard PendingState.concerns(event), let asset = event.asset else { return }
        let before = try run(
            """
            SELECT \(unescaped: decisionColumns) FROM consentgate.decisions
            WHERE pipeline = \(event.pipeline) AND asset = \(asset)
            """
        ).first.map(decision)
        guard let row = PendingState.change(event, before: before) else { return }
        _ = try run(
            """
            INSERT INTO consentgate.decisions (\(unescaped: decisionColumns))
            VALUES (\(row.asset), \(row.pipeline), \(row.latestKind), \(row.quarantinePending), \(row.contentSHA256),
              \(row.fileSHA256), \(row.quarantinedAt))
            ON CONFLICT (pipeline, asset) DO UPDATE SET latest_kind = EXCLUDED.latest_kind,
              quarantine_pending = EXCLUDED.quarantine_pending, content_sha256 = EXCLUDED.content_sha256,
              file_sha256 = EXCLUDED.file_sha256, quarantined_at = EXCLUDED.quarantined_at
            """)
    }

    func keptDecisions(_ condition: String = "TRUE", _ binds: PostgresBindings = PostgresBindings())
        throws(PipelineError) -> [PendingState.Row]
    {
        let sql = "SELECT \(Self.decisionColumns) FROM consentgate.decisions WHERE \(condition)"
        do { return try bridge.query(PostgresQuery(unsafeSQL: sql, binds: binds)).map(Self.decision) } catch {
            throw fail("read the decisions", error)
        }
    }

    public func pendingQuarantines(pipeline: String) throws(PipelineError) -> [PendingState.Row] {
        guard readsState else {
            return try replayedDecisions().values.filter { $0.pipeline == pipeline && $0.isPending }
                .sorted { $0.asset < $1.asset }
        }
        var binds = PostgresBindings()
        binds.append(pipeline)
        binds.append([EventKind.quarantined.rawValue, EventKind.releaseStarted.rawValue])
        return try keptDecisions(
            "pipeline = $1 AND latest_kind = ANY($2) AND quarantine_pending ORDER BY asset COLLATE \"C\"", binds)
    }

    func decisionProblems() throws(PipelineError) -> [String] {
        guard stateKept else { return [] }
        return PendingState.differences(kept: try keptDecisions(), replayed: try replayedDecisions())
    }
}
#endif
