#if PostgreSQL
import Foundation
import PostgresNIO

/// The PostgreSQL ledger's memory of verified record signatures, as the SQLite ledger's (`LedgerSignatures.swift`).
extension PostgresLedger {
    static let signatureStatements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS consentgate.verified_signatures (
          entry TEXT PRIMARY KEY, trust_sha256 TEXT NOT NULL)
        """
    ]

    public func verifiedSignatures(trustSHA256: String) throws(PipelineError) -> Set<String> {
        guard stateKept else { return [] }
        do {
            return Set(
                try bridge.query("SELECT entry FROM consentgate.verified_signatures WHERE trust_sha256 = \(trustSHA256)")
                    .map { try $0.makeRandomAccess()[0].decode(String.self) })
        } catch { throw fail("read verified signatures", error) }
    }

    public func rememberVerifiedSignatures(_ entries: [String], trustSHA256: String) throws(PipelineError) {
        guard stateKept else { return }
        do {
            try bridge.transaction { run in
                _ = try run("DELETE FROM consentgate.verified_signatures WHERE trust_sha256 <> \(trustSHA256)")
                guard !entries.isEmpty else { return }
                _ = try run(
                    """
                    INSERT INTO consentgate.verified_signatures (entry, trust_sha256)
                    SELECT unnest(\(entries)::text[]), \(trustSHA256) ON CONFLICT (entry) DO NOTHING
                    """)
            }
        } catch { throw fail("remember verified signatures", error) }
    }
}
#endif
