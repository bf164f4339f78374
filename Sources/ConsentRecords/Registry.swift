import Dispatch
import Foundation
import Synchronization

/// A record file that was refused, with why. Its JSON is never trusted; the fingerprints it names (if
/// it parses) are kept only so that a check can say "this picture's record is invalid: WHY".
public struct InvalidRecord: Error, Sendable, Equatable {
    public var file: String
    public var id: String?
    public var reason: String
    public var contentSHA256s: [String] = []
    public var fileSHA256s: [String] = []
    /// For a revocation that could not be verified: the authorization it names (which it then blocks).
    public var revokes: String?
}

/// A record whose signature, signer and schema all check out.
public struct VerifiedRecord: Sendable {
    public var record: Record
    public var file: String
    public var keyID: String
    /// When it says it was signed (trusted comment `signed_at=`, else the record's `recorded_at`).
    public var signedAt: Date?
    /// Fields an auditor expects that the record leaves out.
    public var warnings: [String]
}

/// Every record of an authorizations folder, verified against a trust store.
public struct Registry: Sendable {
    public var authorizations: [String: VerifiedRecord] = [:]
    /// Revocations by the id of the authorization they revoke.
    public var revocations: [String: [Revocation]] = [:]
    public var invalid: [InvalidRecord] = []
    /// Verified authorization ids by asset fingerprint.
    var byContent: [String: [String]] = [:]
    var byFile: [String: [String]] = [:]
    /// Ids of authorizations superseded by a verified authorization, and by which.
    var supersededBy: [String: String] = [:]

    public var verifiedCount: Int { authorizations.count + revocations.values.reduce(0) { $0 + $1.count } }

    /// Loads every `NAME.json` (with `NAME.json.minisig`) in `folder`. Unreadable or invalid records are
    /// listed in `invalid`, never fatal; a folder that cannot be listed throws.
    public static func load(folder: String, trust: TrustStore, now: Date = Date()) throws(RecordError) -> Registry {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw RecordError(reason: "cannot list the authorizations folder \(folder): \(error.localizedDescription)")
        }
        let jsonFiles = names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
        let results = Mutex([Result<VerifiedRecord, InvalidRecord>?](repeating: nil, count: jsonFiles.count))
        DispatchQueue.concurrentPerform(iterations: jsonFiles.count) { index in
            let outcome = RecordVerifier.verify(folder: folder, name: jsonFiles[index], trust: trust, now: now)
            results.withLock { $0[index] = outcome }
        }
        var registry = Registry()
        for outcome in results.withLock({ $0 }) {
            switch outcome {
            case .success(let verified)?: registry.add(verified)
            case .failure(let invalid)?: registry.invalid.append(invalid)
            case nil: break
            }
        }
        registry.finishIndexes()
        return registry
    }

    mutating func add(_ verified: VerifiedRecord) {
        switch verified.record {
        case .authorization(let authorization):
            if authorizations[authorization.id] != nil {
                invalid.append(
                    InvalidRecord(
                        file: verified.file, id: authorization.id, reason: "a second record with id \(authorization.id)"
                    ))
                return
            }
            authorizations[authorization.id] = verified
        case .revocation(let revocation):
            revocations[revocation.authorization, default: []].append(revocation)
        }
    }

    mutating func finishIndexes() {
        for (id, verified) in authorizations {
            guard case .authorization(let authorization) = verified.record else { continue }
            for asset in authorization.assets {
                if let content = asset.contentSHA256 { byContent[content, default: []].append(id) }
                if let file = asset.fileSHA256 { byFile[file, default: []].append(id) }
            }
            if let old = authorization.supersedes { supersededBy[old] = id }
        }
        for key in byContent.keys { byContent[key] = Array(Set(byContent[key]!)).sorted() }
        for key in byFile.keys { byFile[key] = Array(Set(byFile[key]!)).sorted() }
        invalid.sort { $0.file < $1.file }
    }

    /// Verified authorizations that list the asset by either fingerprint.
    public func authorizations(contentSHA256: String?, fileSHA256: String?) -> [Authorization] {
        var ids = Set<String>()
        if let contentSHA256 { ids.formUnion(byContent[contentSHA256] ?? []) }
        if let fileSHA256 { ids.formUnion(byFile[fileSHA256] ?? []) }
        return ids.sorted().compactMap {
            if case .authorization(let a)? = authorizations[$0]?.record { return a }
            return nil
        }
    }

    /// Invalid records that name the asset.
    public func invalidRecords(contentSHA256: String?, fileSHA256: String?) -> [InvalidRecord] {
        invalid.filter { record in
            (contentSHA256.map { record.contentSHA256s.contains($0) } ?? false)
                || record.fileSHA256s.contains(fileSHA256 ?? "")
        }
    }
}

/// Checks one record file: signature by a trusted key with the right role, status and validity window;
/// strict schema; file name equal to the id.
enum RecordVerifier {
    static let maxRecordBytes = 1 << 20
    /// How far in the future a signature's own time may lie (clock skew between machines).
    static let allowedSkew: TimeInterval = 300

    static func verify(folder: String, name: String, trust: TrustStore, now: Date) -> Result<
        VerifiedRecord, InvalidRecord
    > {
        let path = (folder as NSString).appendingPathComponent(name)
        var invalid = InvalidRecord(file: name, reason: "")
        func refuse(_ reason: String) -> Result<VerifiedRecord, InvalidRecord> {
            invalid.reason = reason
            return .failure(invalid)
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= maxRecordBytes else {
            return refuse("cannot read the record, or it is over \(maxRecordBytes) bytes")
        }
        let bytes = Array(data)
        // Parsed once. Before the signature is checked, what it says is used only to report which pictures a
        // bad record names; it becomes the record only after every check below has passed.
        let parsed = Result { () throws(RecordError) -> Record in try RecordParser.parse(bytes) }
        switch parsed {
        case .success(.authorization(let claimed)):
            invalid.id = claimed.id
            invalid.contentSHA256s = claimed.assets.compactMap(\.contentSHA256)
            invalid.fileSHA256s = claimed.assets.compactMap(\.fileSHA256)
        case .success(.revocation(let claimed)):
            invalid.id = claimed.id
            invalid.revokes = claimed.authorization
        case .failure:
            if let loose = try? StrictJSON.parse(bytes), case .object(let members) = loose,
                case .string(let id)? = members.first(where: { $0.key == "id" })?.value
            {
                invalid.id = id
            }
        }
        guard let signatureText = try? String(contentsOfFile: path + ".minisig", encoding: .utf8) else {
            return refuse("signature invalid: no signature file \(name).minisig")
        }
        let signature: Minisign.Signature
        do { signature = try Minisign.Signature(parsing: signatureText) } catch {
            return refuse("signature invalid: \(error)")
        }
        guard let key = trust.keys[signature.keyIDHex] else {
            return refuse("signature invalid: signed by unknown key \(signature.keyIDHex)")
        }
        do { try signature.verify(bytes, with: key.publicKey) } catch { return refuse("signature invalid: \(error)") }
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
            type != { if case .authorization = record { return Authorization.type } else { return Revocation.type } }()
        {
            return refuse("signature invalid: the trusted comment names type \(type)")
        }
        if let id = comment.fields["id"], id != record.id {
            return refuse("signature invalid: the trusted comment names id \(id), the record \(record.id)")
        }
        let role: KeyRole
        switch record {
        case .authorization: role = .authorize
        case .revocation: role = .revoke
        }
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
        }
        if let signedAt, signedAt > now.addingTimeInterval(allowedSkew) {
            return refuse("signature invalid: signed in the future (\(Timestamp.format(signedAt)))")
        }
        // The key's window must cover when it signed (when unknown: now), and it must have begun by now.
        let when = signedAt ?? now
        guard CalendarDay(now) >= key.validFrom, CalendarDay(when) >= key.validFrom else {
            return refuse("signature invalid: key \(key.keyID) is valid only from \(key.validFrom)")
        }
        if let until = key.validUntil, CalendarDay(when) > until {
            return refuse("signature invalid: key \(key.keyID) was valid until \(until), the record was signed later")
        }
        if key.status == .retired && signedAt == nil {
            return refuse(
                "signature invalid: key \(key.keyID) is retired and the record does not say when it was signed")
        }
        var warnings: [String] = []
        if case .authorization(let authorization) = record, !authorization.missingAuditFields.isEmpty {
            warnings.append(
                "missing fields an auditor expects: " + authorization.missingAuditFields.joined(separator: ", "))
        }
        return .success(
            VerifiedRecord(record: record, file: name, keyID: key.keyID, signedAt: signedAt, warnings: warnings))
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
