#if PostgreSQL
import Foundation
import PostgresNIO

/// The PostgreSQL ledger's records seen table (`SeenState`), as the SQLite ledger's (`LedgerSeen.swift`).
extension PostgresLedger {
    static let seenStatements: [String] = [
        "CREATE TABLE IF NOT EXISTS consentgate.records_seen (file_sha256 TEXT PRIMARY KEY, at TEXT NOT NULL)"
    ]

    static func applySeen(_ event: LedgerEvent, _ run: PostgresBridge.Session) throws {
        guard let (sha, at) = SeenState.change(event) else { return }
        _ = try run(
            "INSERT INTO consentgate.records_seen (file_sha256, at) VALUES (\(sha), \(at)) ON CONFLICT DO NOTHING")
    }

    func keptRecordsSeen() throws(PipelineError) -> [String: String] {
        do {
            var seen: [String: String] = [:]
            for row in try bridge.query("SELECT file_sha256, at FROM consentgate.records_seen") {
                let cells = row.makeRandomAccess()
                seen[try cells[0].decode(String.self)] = try cells[1].decode(String.self)
            }
            return seen
        } catch { throw fail("read the records seen", error) }
    }

    public func recordsFirstSeen() throws(PipelineError) -> [String: Date] {
        SeenState.dates(readsState ? try keptRecordsSeen() : try replayedRecordsSeen())
    }

    func seenProblems() throws(PipelineError) -> [String] {
        guard stateKept else { return [] }
        return SeenState.differences(kept: try keptRecordsSeen(), replayed: try replayedRecordsSeen())
    }
}
#endif
