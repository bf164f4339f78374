import Crypto
import Foundation
import Synchronization

/// Signatures already verified (issue 28): a run verifies the signature of a record file only when these exact
/// bytes, with this exact signature file, under this public key, were not verified before. The key of an entry is
/// the SHA-256 of the record's bytes, of its signature file's bytes and of the public key; the pipeline keeps the
/// entries in its ledger for one trust file (by the SHA-256 of its bytes), so a changed trust file starts afresh.
/// Everything else about a record (its schema, name, signer's role, status and window, dates, first-seen time) is
/// checked on every load as before: only the Ed25519 verification is what the cache spares.
public final class SignatureCache: Sendable {
    let known: Set<String>
    let added = Mutex<[String]>([])
    let checks = Mutex(0)

    /// `known`: entries verified before (for the trust file in use now).
    public init(known: Set<String>) { self.known = known }

    /// The entry for a record's bytes, its signature file's bytes and the key that signed it.
    public static func entry(record: [UInt8], signature: [UInt8], publicKey: [UInt8]) -> String {
        var hasher = SHA256()
        for part in [record, signature, publicKey] {
            hasher.update(data: Array(SHA256.hash(data: part)))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    func contains(_ entry: String) -> Bool { known.contains(entry) }

    func verified(_ entry: String) {
        checks.withLock { $0 += 1 }
        added.withLock { $0.append(entry) }
    }

    func failed() { checks.withLock { $0 += 1 } }

    /// Entries verified during the load that were not known: to be remembered.
    public var newEntries: [String] { added.withLock { $0 } }

    /// How many signatures the load verified (the others were known).
    public var signatureChecks: Int { checks.withLock { $0 } }
}
