import ConsentRecords
import Foundation
import TestSupport
import XCTest

/// Signatures, keys and the trust store: interop with the real minisign, and every way a record must fail.
final class SignatureTests: XCTestCase {
    func reasonFor(_ lab: RecordLab, _ file: String, now: String = "2026-06-01T12:00:00Z") throws -> String? {
        try lab.registry(now: RecordLab.date(now)).invalid.first { $0.file == file }?.reason
    }

    func testMinisignVerifiesWhatConsentGateSigns() throws {
        let minisign = try Fixtures.requireTool("minisign")
        let lab = try RecordLab()
        let key = lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        let pub = lab.folder.appendingPathComponent("office.pub")
        try key.publicKey.fileText.write(to: pub, atomically: true, encoding: .utf8)
        let record = lab.records.appendingPathComponent("AUTH-1.json").path
        let result = try Fixtures.run(minisign, ["-V", "-m", record, "-p", pub.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("id=AUTH-1"), result.output)
        // And minisign refuses it once the record changes by one byte.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: record)))
        bytes[20] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: record))
        XCTAssertNotEqual(try Fixtures.run(minisign, ["-V", "-m", record, "-p", pub.path]).status, 0)
    }

    func testRecordsSignedByMinisignVerifyPrehashedAndLegacy() throws {
        let minisign = try Fixtures.requireTool("minisign")
        let lab = try RecordLab()
        let keyPath = lab.folder.appendingPathComponent("mini.key").path
        let pubPath = lab.folder.appendingPathComponent("mini.pub").path
        XCTAssertEqual(try Fixtures.run(minisign, ["-G", "-W", "-p", pubPath, "-s", keyPath]).status, 0)
        let pub = try Minisign.PublicKey(parsing: String(contentsOfFile: pubPath, encoding: .utf8))
        lab.trustEntry(pub, roles: [.authorize], from: "2020-01-01")
        for (id, legacy) in [("AUTH-PRE", false), ("AUTH-LEG", true)] {
            let json = RecordWriter.json(try lab.authorization(id))
            let path = lab.records.appendingPathComponent(id + ".json").path
            try Data(json).write(to: URL(fileURLWithPath: path))
            let result = try Fixtures.run(
                minisign, ["-S", "-s", keyPath, "-m", path, "-t", "signed by the stock tool"] + (legacy ? ["-l"] : []))
            XCTAssertEqual(result.status, 0, result.output)
            let signature = try Minisign.Signature(parsing: String(contentsOfFile: path + ".minisig", encoding: .utf8))
            XCTAssertEqual(signature.prehashed, !legacy)
        }
        let registry = try lab.registry()
        XCTAssertEqual(registry.invalid.map(\.reason), [])
        XCTAssertEqual(Set(registry.authorizations.keys), ["AUTH-PRE", "AUTH-LEG"])
        // ConsentGate also reads minisign's unencrypted secret key and signs with it.
        let key = try Minisign.SecretKey(parsing: String(contentsOfFile: keyPath, encoding: .utf8))
        XCTAssertEqual(key.publicKey, pub)
    }

    func testEverySingleByteChangeIsRefused() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        let recordURL = lab.records.appendingPathComponent("AUTH-1.json")
        let signatureURL = lab.records.appendingPathComponent("AUTH-1.json.minisig")
        let record = Array(try Data(contentsOf: recordURL))
        let signature = Array(try Data(contentsOf: signatureURL))
        XCTAssertEqual(try lab.registry().authorizations.count, 1)
        // The free text of the signature's first line is minisign's *untrusted* comment: no signature covers
        // it, by design, and ConsentGate never reads it. Every other byte of both files is covered.
        let untrustedText = ("untrusted comment: ".utf8.count)..<(signature.firstIndex(of: 0x0A)!)
        for (url, original) in [(recordURL, record), (signatureURL, signature)] {
            var offsets = Array(stride(from: 0, to: original.count, by: max(1, original.count / 60)))
            offsets.append(original.count - 1)
            // Every byte of both base64 lines too, where unused trailing bits could hide a change.
            if url == signatureURL {
                offsets += Array(untrustedText.upperBound..<original.count)
                offsets.removeAll { untrustedText.contains($0) }
            }
            for offset in offsets {
                for flip: UInt8 in [0x01, 0x20] {
                    var changed = original
                    changed[offset] ^= flip
                    try Data(changed).write(to: url)
                    let registry = try lab.registry()
                    XCTAssertTrue(
                        registry.authorizations.isEmpty,
                        "\(url.lastPathComponent) with byte \(offset) changed (^\(flip)) was accepted")
                }
            }
            try Data(original).write(to: url)
        }
        XCTAssertEqual(try lab.registry().authorizations.count, 1, "the untouched record verifies again")
    }

    func testUnknownKeyWrongRoleCompromised() throws {
        let lab = try RecordLab()
        lab.trust("office", roles: [.authorize])
        lab.trust("revoker", roles: [.revoke])
        lab.trust("leaked", status: .compromised)
        let stranger = Minisign.SecretKey.generate()
        lab.keys["stranger"] = stranger
        try lab.write(try lab.authorization("AUTH-STRANGER"), key: "stranger")
        try lab.write(try lab.authorization("AUTH-ROLE"), key: "revoker")
        try lab.write(try lab.authorization("AUTH-LEAKED"), key: "leaked")
        try lab.write(
            Revocation(id: "REV-ROLE", authorization: "AUTH-X", receivedAt: RecordLab.date("2026-01-01T00:00:00Z")),
            key: "office")
        XCTAssertEqual(
            try reasonFor(lab, "AUTH-STRANGER.json"),
            "signature invalid: signed by unknown key \(stranger.publicKey.keyIDHex)")
        XCTAssertTrue(try reasonFor(lab, "AUTH-ROLE.json")?.contains("does not have the role authorize") ?? false)
        XCTAssertTrue(try reasonFor(lab, "AUTH-LEAKED.json")?.contains("compromised") ?? false)
        XCTAssertTrue(try reasonFor(lab, "REV-ROLE.json")?.contains("does not have the role revoke") ?? false)
        XCTAssertTrue(try lab.registry().authorizations.isEmpty)
        // The decision reports the invalid record for the picture it names.
        let decision = try lab.decide()
        XCTAssertFalse(decision.approved)
        XCTAssertTrue(
            decision.reasons.contains {
                if case .invalidRecord(id: "AUTH-LEAKED", _) = $0 { return true } else { return false }
            })
    }

    func testRetiredKeyKeepsWhatItSignedBeforeRetirement() throws {
        let lab = try RecordLab()
        lab.trust("old", from: "2025-01-01", until: "2026-03-31", status: .retired)
        try lab.write(try lab.authorization("AUTH-BEFORE"), key: "old", signedAt: "2026-03-30T10:00:00Z")
        try lab.write(try lab.authorization("AUTH-AFTER"), key: "old", signedAt: "2026-04-02T10:00:00Z")
        let registry = try lab.registry()
        XCTAssertEqual(Array(registry.authorizations.keys), ["AUTH-BEFORE"])
        XCTAssertTrue(try reasonFor(lab, "AUTH-AFTER.json")?.contains("valid until 2026-03-31") ?? false)
    }

    func testKeyNotYetValidAndSignatureFromTheFuture() throws {
        let lab = try RecordLab()
        lab.trust("future", from: "2027-01-01")
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-EARLY"), key: "future")
        try lab.write(
            try lab.authorization("AUTH-TIME", picture: "demo-camera-photo.jpg"), key: "office",
            signedAt: "2026-09-01T00:00:00Z")
        XCTAssertTrue(try reasonFor(lab, "AUTH-EARLY.json")?.contains("valid only from 2027-01-01") ?? false)
        XCTAssertTrue(try reasonFor(lab, "AUTH-TIME.json")?.contains("signed in the future") ?? false)
    }

    func testSignatureOfAnotherRecordIsRefused() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        try lab.write(try lab.authorization("AUTH-2", picture: "demo-camera-photo.jpg"))
        let one = lab.records.appendingPathComponent("AUTH-1.json.minisig")
        let two = lab.records.appendingPathComponent("AUTH-2.json.minisig")
        try FileManager.default.removeItem(at: one)
        try FileManager.default.copyItem(at: two, to: one)
        XCTAssertEqual(try reasonFor(lab, "AUTH-1.json"), "signature invalid: the signature does not match the file")
    }

    func testSecretKeyReadableByOthersIsRefused() throws {
        let lab = try RecordLab()
        let made = try KeyFiles.generate(name: "office", folder: lab.folder.path)
        let attributes = try FileManager.default.attributesOfItem(atPath: made.secretPath)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertNoThrow(try KeyFiles.loadSecretKey(path: made.secretPath))
        chmod(made.secretPath, 0o640)
        XCTAssertThrowsError(try KeyFiles.loadSecretKey(path: made.secretPath)) { error in
            XCTAssertTrue("\(error)".contains("readable by group or others"), "\(error)")
        }
        XCTAssertThrowsError(try KeyFiles.generate(name: "office", folder: lab.folder.path), "never overwrites a key")
    }

    func testTrustFileErrorsNameTheProblem() {
        func error(_ yaml: String) -> String {
            do {
                _ = try TrustStore.parse(yaml, source: "trust.yml")
                return "accepted"
            } catch { return error.message }
        }
        let key = Minisign.SecretKey.generate().publicKey
        let good =
            "- key_id: \"\(key.keyIDHex)\"\n  public_key: \"\(key.base64)\"\n  roles: [authorize]\n  valid_from: \"2026-01-01\"\n  status: active\n"
        XCTAssertEqual(error(good), "accepted")
        XCTAssertTrue(error(good + "  colour: blue\n").contains("unknown field \"colour\""))
        XCTAssertTrue(error(good.replacingOccurrences(of: "active", with: "retired")).contains("no valid_until"))
        XCTAssertTrue(
            error(good.replacingOccurrences(of: key.keyIDHex, with: "0000000000000000")).contains("does not match"))
        XCTAssertTrue(error(good + good).contains("listed twice"))
        XCTAssertTrue(error("keys: []").contains("must be a YAML list"))
        XCTAssertTrue(error(good.replacingOccurrences(of: "[authorize]", with: "[publish]")).contains("unknown role"))
    }
}
