import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// A temporary authorizations folder with keys and a trust store, for one test.
final class RecordLab {
    let folder: URL
    let records: URL
    var trustEntries: [String] = []
    var keys: [String: Minisign.SecretKey] = [:]

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cg-records-" + UUID().uuidString)
        records = folder.appendingPathComponent("authorizations")
        try FileManager.default.createDirectory(at: records, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// Adds a key to the trust store.
    @discardableResult
    func trust(
        _ name: String, roles: [KeyRole] = [.authorize, .revoke], from: String = "2020-01-01", until: String? = nil,
        status: KeyStatus = .active
    ) -> Minisign.SecretKey {
        let key = Minisign.SecretKey.generate()
        keys[name] = key
        trustEntry(key.publicKey, roles: roles, from: from, until: until, status: status)
        return key
    }

    func trustEntry(
        _ key: Minisign.PublicKey, roles: [KeyRole], from: String, until: String? = nil, status: KeyStatus = .active
    ) {
        var entry = """
            - key_id: "\(key.keyIDHex)"
              public_key: "\(key.base64)"
              roles: [\(roles.map(\.rawValue).joined(separator: ", "))]
              valid_from: "\(from)"
              status: \(status.rawValue)

            """
        if let until { entry += "  valid_until: \"\(until)\"\n" }
        trustEntries.append(entry)
    }

    var trustPath: String {
        let path = folder.appendingPathComponent("trust.yml").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(trustEntries.joined().utf8))
        return path
    }

    func store() throws -> TrustStore { try TrustStore.load(path: trustPath) }

    func registry(now: Date = date("2026-06-01T12:00:00Z")) throws -> Registry {
        try Registry.load(folder: records.path, trust: try store(), now: now)
    }

    static func date(_ text: String) -> Date { Timestamp.parse(text)! }

    static func fingerprints(_ name: String) throws -> Fingerprints {
        try MediaFile(path: Fixtures.sampleMedia.appendingPathComponent(name).path).fingerprints()
    }

    /// An authorization for a sample picture, with sensible defaults.
    func authorization(
        _ id: String, picture: String = "demo-phone-photo.jpg", subject: String = "P-0001",
        channels: [String] = ["website"],
        purposes: [String] = ["marketing"], effective: String = "2026-01-01", expires: String = "2027-01-01",
        people: Int? = nil, supersedes: String? = nil
    ) throws -> Authorization {
        let prints = try RecordLab.fingerprints(picture)
        return Authorization(
            id: id, subject: subject, purposes: purposes, channels: channels,
            assets: [
                AssetReference(
                    presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, peopleInFrame: people)
            ],
            effective: CalendarDay(effective)!, expires: CalendarDay(expires)!, supersedes: supersedes)
    }

    func write(_ authorization: Authorization, key name: String = "office", signedAt: String = "2026-01-02T00:00:00Z")
        throws
    {
        try RecordWriter.write(
            RecordWriter.json(authorization), record: .authorization(authorization), to: records.path, key: keys[name]!,
            now: RecordLab.date(signedAt))
    }

    func write(_ revocation: Revocation, key name: String = "office", signedAt: String = "2026-01-02T00:00:00Z") throws
    {
        try RecordWriter.write(
            RecordWriter.json(revocation), record: .revocation(revocation), to: records.path, key: keys[name]!,
            now: RecordLab.date(signedAt))
    }

    func decide(
        _ picture: String = "demo-phone-photo.jpg", channel: String = "website", now: String = "2026-06-01T12:00:00Z"
    ) throws -> ConsentDecision {
        let prints = try RecordLab.fingerprints(picture)
        return ConsentPolicy.decide(
            presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, channel: channel,
            registry: try registry(now: RecordLab.date(now)), now: RecordLab.date(now))
    }
}

extension RecordLab {
    /// Writes `bytes` as `name` in the authorizations folder (a path with '/' makes the subfolders), and, with a
    /// key, `name.minisig` signed by it over exactly these bytes (trusted comment `comment`).
    func writeRaw(
        _ name: String, _ bytes: [UInt8], signedBy key: Minisign.SecretKey? = nil,
        comment: String = "signed_at=2026-01-02T00:00:00Z"
    ) throws {
        let url = records.appendingPathComponent(name)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        if let key {
            let signature = try Minisign.sign(bytes, with: key, trustedComment: comment, untrustedComment: "test")
            try Data(signature.utf8).write(to: URL(fileURLWithPath: url.path + ".minisig"))
        }
    }

    func writeRaw(
        _ name: String, _ text: String, signedBy key: Minisign.SecretKey? = nil,
        comment: String = "signed_at=2026-01-02T00:00:00Z"
    ) throws {
        try writeRaw(name, Array(text.utf8), signedBy: key, comment: comment)
    }
}
