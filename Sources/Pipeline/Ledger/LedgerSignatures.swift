import Foundation
import GRDB

/// The SQLite ledger's memory of verified record signatures (`SignatureCache`; a cache, not history: losing it
/// only makes the next run verify every signature again).
extension Ledger {
    static let signaturesSchema = """
        CREATE TABLE IF NOT EXISTS verified_signatures (entry TEXT PRIMARY KEY, trust_sha256 TEXT NOT NULL);
        """

    public func verifiedSignatures(trustSHA256: String) throws(PipelineError) -> Set<String> {
        guard stateKept.withLock({ $0 }) else { return [] }
        do {
            return try queue.read { db in
                Set(
                    try String.fetchAll(
                        db, sql: "SELECT entry FROM verified_signatures WHERE trust_sha256 = ?",
                        arguments: [trustSHA256]))
            }
        } catch { throw PipelineError("ledger: cannot read verified signatures: \(error)", exitCode: 3, stage: .ledger) }
    }

    public func rememberVerifiedSignatures(_ entries: [String], trustSHA256: String) throws(PipelineError) {
        guard stateKept.withLock({ $0 }) else { return }
        do {
            try queue.write { db in
                try db.execute(sql: "DELETE FROM verified_signatures WHERE trust_sha256 <> ?", arguments: [trustSHA256])
                for entry in entries {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO verified_signatures (entry, trust_sha256) VALUES (?, ?)",
                        arguments: [entry, trustSHA256])
                }
            }
        } catch {
            throw PipelineError("ledger: cannot remember verified signatures: \(error)", exitCode: 3, stage: .ledger)
        }
    }
}
