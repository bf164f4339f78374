#if PostgreSQL
import Foundation
import PostgresNIO
import Synchronization

/// The PostgreSQL ledger's state tables (issue 28), as the SQLite ledger's (`LedgerState.swift`): the live
/// publications, changed in the transaction that appends the events that change them. `consentgate ledger init`
/// makes them and, for a ledger from before them, fills them from the events (schema version 1 in
/// `consentgate.state_version`); until then the hosts answer from the events.
extension PostgresLedger {
    static let stateStatements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS consentgate.live_publications (
          name TEXT PRIMARY KEY, asset TEXT NOT NULL, pipeline TEXT NOT NULL, file_sha256 TEXT, content_sha256 TEXT,
          records TEXT NOT NULL, published_sha256 TEXT, published_stat TEXT, record_keys TEXT NOT NULL,
          at TEXT NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS live_publications_asset ON consentgate.live_publications (asset)",
        "CREATE INDEX IF NOT EXISTS live_publications_content ON consentgate.live_publications (content_sha256)",
        """
        CREATE TABLE IF NOT EXISTS consentgate.state_version (
          id INT PRIMARY KEY CHECK (id = 1), version INT NOT NULL)
        """,
        "INSERT INTO consentgate.state_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    ] + decisionStatements + signatureStatements + seenStatements

    /// Fills the state tables from the events when they are below `Ledger.stateVersion` (as the administrator,
    /// under the head's lock, so no host appends meanwhile). Returns whether it did.
    static func fillState(_ run: PostgresBridge.Session) throws -> Bool {
        _ = try run("SELECT seq FROM consentgate.head WHERE id = 1 FOR UPDATE")
        let row = try run("SELECT version FROM consentgate.state_version WHERE id = 1").first
        let version = try row.map { try $0.makeRandomAccess()[0].decode(Int32.self) } ?? 0
        guard version < Int32(Ledger.stateVersion) else { return false }
        _ = try run("DELETE FROM consentgate.live_publications")
        _ = try run("DELETE FROM consentgate.decisions")
        _ = try run("DELETE FROM consentgate.records_seen")
        let kinds = ([.published, .released, .retracted, .recordSeen] + QuarantineState.kinds).map {
            "'\($0.rawValue)'"
        }
        let rows = try run(
            PostgresQuery(
                unsafeSQL: """
                    SELECT seq, at, pipeline, kind, asset, file_sha256, content_sha256, detail, prev_hash, hash
                    FROM consentgate.events WHERE kind IN (\(kinds.joined(separator: ", "))) ORDER BY seq
                    """))
        for row in rows { try applyState(try event(row), run) }
        _ = try run("UPDATE consentgate.state_version SET version = \(Int32(Ledger.stateVersion)) WHERE id = 1")
        return true
    }

    /// Whether the schema has the state tables at the version this build keeps.
    static func keepsState(_ bridge: PostgresBridge) -> Bool {
        guard let row = try? bridge.query("SELECT version FROM consentgate.state_version WHERE id = 1").first,
            let version = try? row.makeRandomAccess()[0].decode(Int32.self)
        else { return false }
        return version >= Int32(Ledger.stateVersion)
    }

    /// What one event changes in the state tables, in the transaction that appends it.
    static func applyState(_ event: LedgerEvent, _ run: PostgresBridge.Session) throws {
        try applyDecision(event, run)
        try applySeen(event, run)
        switch LiveState.change(event) {
        case .retract(let asset):
            _ = try run("DELETE FROM consentgate.live_publications WHERE asset = \(asset)")
        case .publish(let publication):
            _ = try run("DELETE FROM consentgate.live_publications WHERE asset = \(publication.asset)")
            _ = try run(
                """
                INSERT INTO consentgate.live_publications (name, asset, pipeline, file_sha256, content_sha256, records,
                  published_sha256, published_stat, record_keys, at)
                VALUES (\(publication.name), \(publication.asset), \(publication.pipeline), \(publication.fileSHA256),
                  \(publication.contentSHA256), \(LiveState.encode(publication.records)),
                  \(publication.publishedSHA256), \(publication.publishedStat),
                  \(LiveState.encode(publication.recordKeys)), \(publication.at))
                ON CONFLICT (name) DO UPDATE SET asset = EXCLUDED.asset, pipeline = EXCLUDED.pipeline,
                  file_sha256 = EXCLUDED.file_sha256, content_sha256 = EXCLUDED.content_sha256,
                  records = EXCLUDED.records, published_sha256 = EXCLUDED.published_sha256,
                  published_stat = EXCLUDED.published_stat, record_keys = EXCLUDED.record_keys, at = EXCLUDED.at
                """)
        case nil: return
        }
    }

    static func event(_ row: PostgresRow) throws -> LedgerEvent {
        let cells = row.makeRandomAccess()
        return LedgerEvent(
            seq: try cells[0].decode(Int64.self), at: try cells[1].decode(String.self),
            pipeline: try cells[2].decode(String.self), kind: try cells[3].decode(String.self),
            asset: try cells[4].decode(String?.self), fileSHA256: try cells[5].decode(String?.self),
            contentSHA256: try cells[6].decode(String?.self), detail: try cells[7].decode(String.self),
            prevHash: try cells[8].decode(String.self), hash: try cells[9].decode(String.self))
    }

    /// The live publications table as it is kept (`condition` binds `$1`, `$2` from `binds`).
    func keptLivePublications(_ condition: String = "TRUE", _ binds: PostgresBindings = PostgresBindings())
        throws(PipelineError) -> [Ledger.Publication]
    {
        let sql = """
            SELECT name, asset, pipeline, file_sha256, content_sha256, records, published_sha256, published_stat,
              record_keys, at
            FROM consentgate.live_publications WHERE \(condition)
            """
        do {
            return try bridge.query(PostgresQuery(unsafeSQL: sql, binds: binds)).map { row in
                let cells = row.makeRandomAccess()
                let at = try cells[9].decode(String.self)
                return Ledger.Publication(
                    asset: try cells[1].decode(String.self), pipeline: try cells[2].decode(String.self),
                    name: try cells[0].decode(String.self), fileSHA256: try cells[3].decode(String?.self),
                    contentSHA256: try cells[4].decode(String?.self),
                    records: LiveState.decode(try cells[5].decode(String.self)),
                    publishedSHA256: try cells[6].decode(String?.self), publishedStat: try cells[7].decode(String?.self),
                    recordKeys: LiveState.decode(try cells[8].decode(String.self)),
                    publishedAt: Ledger.parseTimestamp(at), at: at)
            }
        } catch { throw fail("read the live publications", error) }
    }

    public func livePublications() throws(PipelineError) -> [String: Ledger.Publication] {
        guard stateTrusted.withLock({ $0 }) else { return try replayedLivePublications() }
        var live: [String: Ledger.Publication] = [:]
        for publication in try keptLivePublications() { live[publication.name] = publication }
        return live
    }

    public func livePublications(pipeline: String, contentSHA256: String) throws(PipelineError)
        -> [Ledger.Publication]
    {
        guard stateTrusted.withLock({ $0 }) else {
            return try replayedLivePublications().values.filter {
                $0.pipeline == pipeline && $0.contentSHA256 == contentSHA256
            }.sorted { $0.name < $1.name }
        }
        var binds = PostgresBindings()
        binds.append(pipeline)
        binds.append(contentSHA256)
        return try keptLivePublications("pipeline = $1 AND content_sha256 = $2 ORDER BY name", binds)
    }

    public var readsState: Bool { stateTrusted.withLock { $0 } }

    public func keptLivePublications(named names: [String]) throws(PipelineError) -> [String: Ledger.Publication] {
        guard !names.isEmpty else { return [:] }
        var binds = PostgresBindings()
        binds.append(names)
        var found: [String: Ledger.Publication] = [:]
        for publication in try keptLivePublications("name = ANY($1)", binds) { found[publication.name] = publication }
        return found
    }

    public func keptLivePublications(pipeline: String, after name: String?, limit: Int) throws(PipelineError)
        -> [Ledger.Publication]
    {
        var binds = PostgresBindings()
        binds.append(pipeline)
        binds.append(name ?? "")
        return try keptLivePublications("pipeline = $1 AND name > $2 ORDER BY name LIMIT \(max(1, limit))", binds)
    }

    public func keptLivePublication(asset: String) throws(PipelineError) -> Ledger.Publication? {
        var binds = PostgresBindings()
        binds.append(asset)
        return try keptLivePublications("asset = $1 LIMIT 1", binds).first
    }

    public func distrustState() { stateTrusted.withLock { $0 = false } }

    /// The newest event against the head row, and the number of events against the newest's number.
    public func quickCheck() throws(PipelineError) -> [String] {
        var problems: [String] = []
        do {
            let rows = try bridge.query(
                """
                SELECT h.seq, h.hash, (SELECT count(*) FROM consentgate.events),
                  (SELECT coalesce(max(seq), 0) FROM consentgate.events),
                  (SELECT e.hash FROM consentgate.events e WHERE e.seq = h.seq)
                FROM consentgate.head h WHERE h.id = 1
                """)
            guard let cells = rows.first?.makeRandomAccess() else { return ["the head row is missing"] }
            let headSeq = try cells[0].decode(Int64.self)
            let headHash = try cells[1].decode(String.self)
            let count = try cells[2].decode(Int64.self)
            let newest = try cells[3].decode(Int64.self)
            let hashAtHead = try cells[4].decode(String?.self)
            if count != newest { problems.append("\(newest - count) event(s) before event \(newest) are missing") }
            if headSeq > newest {
                problems.append(
                    "the newest \(headSeq - newest) event(s) are missing: the head row records event \(headSeq), "
                        + "the ledger ends at \(newest)")
            } else if headSeq > 0 && hashAtHead != headHash {
                problems.append("event \(headSeq) is not the one the head row recorded")
            }
        } catch { throw fail("read the head", error) }
        return problems
    }

    /// The state tables against the state the events imply.
    func stateProblems() throws(PipelineError) -> [String] {
        guard stateKept else { return [] }
        var kept: [String: Ledger.Publication] = [:]
        for publication in try keptLivePublications() { kept[publication.name] = publication }
        return LiveState.differences(kept: kept, replayed: try replayedLivePublications()) + (try decisionProblems())
            + (try seenProblems())
    }
}
#endif
