import Foundation
import TestSupport
import XCTest

/// The consent commands as a privacy office uses them: keys generate, authorize, check, revoke, records verify.
final class ConsentCommandTests: PrivacyOfficeTestCase {
    let edited = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo-edited.jpg").path

    func check(_ file: String, channel: String, asOf: String? = nil) throws -> (status: Int32, report: [String: Any]) {
        let outcome = try cg(
            ["check", file, "--channel", channel, "--authorizations", auth, "--trust", trust, "--json"]
                + (asOf.map { ["--as-of", $0] } ?? []))
        let report = (try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [String: Any] ?? [:]
        return (outcome.status, report)
    }

    /// An RFC 3339 time `days` from now, so the test does not depend on today's date.
    func fromNow(days: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date().addingTimeInterval(days * 86_400))
    }

    func codes(_ report: [String: Any]) -> [String] {
        (report["reasons"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    func testAuthorizeCheckRevokeVerify() throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: key)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)

        let authorize = try cg(
            [
                "authorize", "--key", key, "--id", "AUTH-1", "--subject", "P-7f3a9c", "--channels", "website,instagram",
                "--effective", String(fromNow(days: -10).prefix(10)), "--expires",
                String(fromNow(days: 3650).prefix(10)), "--out", auth, photo,
            ])
        XCTAssertEqual(authorize.status, 0, authorize.stderr)

        // The same picture with edited metadata is publishable on a permitted channel...
        let allowed = try check(edited, channel: "website")
        XCTAssertEqual(allowed.status, 0, "\(allowed.report)")
        XCTAssertEqual(allowed.report["publishable"] as? Bool, true)
        XCTAssertEqual(allowed.report["records_used"] as? [String], ["AUTH-1"])
        XCTAssertFalse((allowed.report["metadata_found"] as? [Any] ?? []).isEmpty)
        // ...and not on another.
        let other = try check(photo, channel: "facebook")
        XCTAssertEqual(other.status, 1)
        XCTAssertEqual(codes(other.report), ["channel_not_permitted"])

        let revoke = try cg(
            ["revoke", "--key", key, "--authorization", "AUTH-1", "--received-at", fromNow(days: 0.5), "--out", auth])
        XCTAssertEqual(revoke.status, 0, revoke.stderr)
        // Dated a few hours ahead (a clock or a typo): nobody receives a letter tomorrow, so it applies at once.
        let revoked = try check(photo, channel: "website", asOf: fromNow(days: 0))
        XCTAssertEqual(revoked.status, 1)
        XCTAssertEqual(codes(revoked.report), ["revoked"])

        let verify = try cg(["records", "verify", "--authorizations", auth, "--trust", trust])
        XCTAssertEqual(verify.status, 0, verify.text + verify.stderr)
        XCTAssertTrue(verify.text.contains("2 valid, 0 invalid"), verify.text)
        XCTAssertTrue(verify.text.contains("missing fields an auditor expects"), verify.text)

        // An edited record is listed as invalid, and its picture is no longer publishable.
        let recordPath = (auth as NSString).appendingPathComponent("AUTH-1.json")
        let text = try String(contentsOfFile: recordPath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"P-7f3a9c\"", with: "\"P-7f3a9d\"").write(
            toFile: recordPath, atomically: true, encoding: .utf8)
        let broken = try cg(["records", "verify", "--authorizations", auth, "--trust", trust, "--json"])
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.text.contains("the signature does not match the file"), broken.text)
        let refused = try check(photo, channel: "website", asOf: fromNow(days: 1))
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(codes(refused.report), ["invalid_record"])
    }

    func testErrorsExitTwoWithAReason() throws {
        let unfingerprintable = try cg(
            [
                "authorize", "--key", key, "--id", "AUTH-X", "--subject", "P-1", "--channels", "website", "--expires",
                "2030-01-01",
                "--out", auth, Fixtures.sampleMedia.appendingPathComponent("not-a-picture.jpg").path,
            ])
        XCTAssertEqual(unfingerprintable.status, 2)
        XCTAssertTrue(unfingerprintable.stderr.contains("not a picture or video"), unfingerprintable.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: auth), [], "nothing written on refusal")

        chmod(key, 0o644)
        let exposed = try cg(
            [
                "authorize", "--key", key, "--id", "AUTH-Y", "--subject", "P-1", "--channels", "website", "--expires",
                "2030-01-01",
                "--out", auth, photo,
            ])
        XCTAssertEqual(exposed.status, 2)
        XCTAssertTrue(exposed.stderr.contains("readable by group or others"), exposed.stderr)

        let noTrust = try cg([
            "check", photo, "--channel", "website", "--authorizations", auth, "--trust", "/nonexistent.yml",
        ])
        XCTAssertEqual(noTrust.status, 2)
        XCTAssertTrue(noTrust.stderr.contains("cannot read the trust file"), noTrust.stderr)

        XCTAssertEqual(try cg(["check", photo, "--channel", "website"]).status, 2, "missing options are a usage error")
        let nothing = try check(photo, channel: "website")
        XCTAssertEqual(nothing.status, 1)
        XCTAssertEqual(codes(nothing.report), ["no_record"])
    }
}
