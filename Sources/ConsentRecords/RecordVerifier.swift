import Crypto
import Dispatch
import Foundation
import Synchronization

/// Checks one record file: signature by a trusted key with the right role, status and validity window;
/// strict schema; file name equal to the id; plausible dates.
enum RecordVerifier {
    static let maxRecordBytes = 1 << 20
    /// How far in the future a signature's own time may lie (clock skew between machines).
    static let allowedSkew: TimeInterval = Plausibility.timeSkew

    struct Outcome {
        var result: Result<VerifiedRecord, InvalidRecord>
        var sighting: RecordSighting?
        /// False when the record's bytes could not be read at all.
        var readable = true
    }

    static func verify(
        folder: String, entry: FolderScan.Entry, trust: TrustStore, now: Date, timeZone: TimeZone,
        firstSeen: (@Sendable (_ file: String, _ sha256: String) -> Date?)?, cache: SignatureCache? = nil
    ) -> Outcome {
        let name = entry.display
        var invalid = InvalidRecord(file: name, reason: "")
        var sighting: RecordSighting? = nil
        func refuse(_ reason: String, readable: Bool = true) -> Outcome {
            invalid.reason = reason
            return Outcome(result: .failure(invalid), sighting: sighting, readable: readable)
        }
        let bytes: [UInt8]
        switch FolderScan.read(entry.path, limit: maxRecordBytes) {
        case .success(let read): bytes = read
        case .failure(let failure): return refuse("cannot read the record: \(failure.why)", readable: false)
        }
        let sha256 = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        sighting = RecordSighting(file: name, sha256: sha256)
        // Parsed once. Before the signature is checked, what it says is used only to report which pictures a
        // bad record names; it becomes the record only after every check below has passed.
        let parsed = Result { () throws(RecordError) -> Record in try RecordParser.parse(bytes) }
        switch parsed {
        case .success(.authorization(let claimed)):
            invalid.id = claimed.id
            invalid.contentSHA256s = claimed.assets.flatMap { [$0.presentedSHA256, $0.contentSHA256] }.compactMap { $0 }
            invalid.fileSHA256s = claimed.assets.compactMap(\.fileSHA256)
        case .success(.revocation(let claimed)):
            invalid.id = claimed.id
            invalid.blocks = [claimed.authorization]
        case .success(.takedown(let claimed)):
            invalid.id = claimed.id
        case .success(.takedownLift(let claimed)):
            invalid.id = claimed.id
        case .success(.review(let claimed)):
            invalid.id = claimed.id
        case .failure:
            if let loose = try? StrictJSON.parse(bytes), case .object(let members) = loose,
                case .string(let id)? = members.first(where: { $0.key == "id" })?.value
            {
                invalid.id = id
            }
        }
        let signatureText: String
        let signatureBytes: [UInt8]
        switch FolderScan.read(entry.path + Array(".minisig".utf8), limit: 64 << 10) {
        case .success(let read):
            guard let text = String(validating: read, as: UTF8.self) else {
                return refuse("signature invalid: \(name).minisig is not UTF-8 text")
            }
            signatureText = text
            signatureBytes = read
        case .failure(let failure):
            let why = failure.why
            if FolderScan.exists(entry.path + Array(".minisig".utf8)) {
                return refuse("signature invalid: \(name).minisig \(why)")
            }
            return refuse("signature invalid: no signature file \(name).minisig")
        }
        let signature: Minisign.Signature
        do { signature = try Minisign.Signature(parsing: signatureText) } catch {
            return refuse("signature invalid: \(error)")
        }
        guard let key = trust.keys[signature.keyIDHex] else {
            return refuse("signature invalid: signed by unknown key \(signature.keyIDHex)")
        }
        let cached = cache.map {
            ($0, SignatureCache.entry(record: bytes, signature: signatureBytes, publicKey: key.publicKey.key))
        }
        if let (cache, entry) = cached, cache.contains(entry) {
            // These bytes, this signature, this key: verified by an earlier load.
        } else {
            do { try signature.verify(bytes, with: key.publicKey) } catch {
                cached?.0.failed()
                return refuse("signature invalid: \(error)")
            }
            if let (cache, entry) = cached { cache.verified(entry) }
        }
        let record: Record
        switch parsed {
        case .success(let value): record = value
        case .failure(let error): return refuse("invalid record: \(error)")
        }
        invalid.id = record.id
        guard name == record.id + ".json" else {
            return refuse("invalid record: file name \(name) does not match its id \(record.id)")
        }
        let comment = TrustedComment(signature.trustedComment)
        if let type = comment.fields["type"],
            type != record.type
        {
            return refuse("signature invalid: the trusted comment names type \(type)")
        }
        if let id = comment.fields["id"], id != record.id {
            return refuse("signature invalid: the trusted comment names id \(id), the record \(record.id)")
        }
        let role = record.role
        guard key.roles.contains(role) else {
            return refuse("signature invalid: key \(key.keyID) does not have the role \(role.rawValue)")
        }
        guard key.status != .compromised else {
            return refuse("signature invalid: key \(key.keyID) is marked compromised")
        }
        var signedAt: Date? = nil
        if let text = comment.fields["signed_at"] {
            guard let date = Timestamp.parse(text) else {
                return refuse("signature invalid: signed_at \(text) is not a timestamp")
            }
            signedAt = date
        } else if case .authorization(let authorization) = record {
            signedAt = authorization.recordedAt
        } else if case .revocation(let revocation) = record {
            signedAt = revocation.receivedAt
        } else if case .takedown(let takedown) = record {
            signedAt = takedown.recordedAt
        } else if case .takedownLift(let lift) = record {
            signedAt = lift.recordedAt
        } else if case .review(let review) = record {
            signedAt = review.recordedAt
        }
        if let signedAt, signedAt > now.addingTimeInterval(allowedSkew) {
            return refuse("signature invalid: signed in the future (\(Timestamp.format(signedAt)))")
        }
        // The key's window must cover when it signed (when unknown: now), and it must have begun by now.
        let when = signedAt ?? now
        let today = CalendarDay(now, in: timeZone)
        guard today >= key.validFrom, CalendarDay(when, in: timeZone) >= key.validFrom else {
            return refuse("signature invalid: key \(key.keyID) is valid only from \(key.validFrom)")
        }
        if let until = key.validUntil, CalendarDay(when, in: timeZone) > until {
            return refuse("signature invalid: key \(key.keyID) was valid until \(until), the record was signed later")
        }
        if key.status == .retired && signedAt == nil {
            return refuse(
                "signature invalid: key \(key.keyID) is retired and the record does not say when it was signed")
        }
        var warnings: [String] = []
        // A retired key's secret still exists: what it signs now could carry any signed_at. Only when
        // ConsentGate first saw the bytes tells a record of its time from a back-dated one.
        if key.status == .retired, let until = key.validUntil {
            if let firstSeen {
                let seen = firstSeen(name, sha256) ?? now
                if CalendarDay(seen, in: timeZone) > until {
                    return refuse(
                        "signature invalid: key \(key.keyID) is retired (valid until \(until)) and ConsentGate first saw this record on \(CalendarDay(seen, in: timeZone))"
                    )
                }
            } else {
                warnings.append(
                    "signed by the retired key \(key.keyID): without a ledger, when ConsentGate first saw it cannot be checked"
                )
            }
        }
        if let implausible = Plausibility.problem(record, signedAt: signedAt, now: now, timeZone: timeZone) {
            return refuse("implausible record: \(implausible)")
        }
        if case .authorization(let authorization) = record {
            for (index, asset) in authorization.assets.enumerated() where asset.isOldDefinitionOnly {
                warnings.append(
                    "asset \(index + 1) is named only by content_sha256, recorded under the old fingerprint definition: "
                        + "it matches no picture; re-record it (consentgate authorize writes presented_sha256)")
            }
        }
        if case .authorization(let authorization) = record, !authorization.missingAuditFields.isEmpty {
            warnings.append(
                "missing fields an auditor expects: " + authorization.missingAuditFields.joined(separator: ", "))
        }
        return Outcome(
            result: .success(
                VerifiedRecord(record: record, file: name, keyID: key.keyID, signedAt: signedAt, warnings: warnings)),
            sighting: sighting)
    }
}

/// The `key=value` words of a trusted comment (ConsentGate writes `type=... id=... signed_at=...`).
struct TrustedComment {
    var fields: [String: String] = [:]
    init(_ text: String) {
        for word in text.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            let key = String(word[..<equals])
            if fields[key] == nil { fields[key] = String(word[word.index(after: equals)...]) }
        }
    }
}
