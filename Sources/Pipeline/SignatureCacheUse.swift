import ByteKit
import ConsentRecords
import Foundation

/// A run's use of the signatures its ledger remembers (issue 28, `SignatureCache`): those verified under the trust
/// file as it is now (by the SHA-256 of its bytes), and, after the load, the ones verified now added.
struct SignatureCacheUse {
    let ledger: any LedgerStore
    let trustSHA256: String
    let cache: SignatureCache

    /// Nil without a ledger, or when the trust file cannot be read (then every signature is verified).
    init?(config: PipelineConfig, ledger: (any LedgerStore)?) throws(PipelineError) {
        guard let ledger, let sha = try? FileSource(path: config.trust).sha256() else { return nil }
        self.ledger = ledger
        trustSHA256 = sha
        cache = SignatureCache(known: try ledger.verifiedSignatures(trustSHA256: sha))
    }

    func remember() throws(PipelineError) {
        try ledger.rememberVerifiedSignatures(cache.newEntries, trustSHA256: trustSHA256)
    }
}
