import Foundation
import TestSupport
import XCTest

/// The record commands' newer rules, as the privacy office meets them: doubt blocks, channels that are checked,
/// expired or implausible records refused, a trust file others may write refused, output that cannot lie.
final class RecordCommandTests: PrivacyOfficeTestCase {
    /// A day `days` from today in this machine's zone (the commands' "today").
    func day(_ days: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date().addingTimeInterval(Double(days) * 86_400))
    }

    func authorize(_ id: String, channels: String = "website,instagram", expires: String? = nil) throws
        -> Fixtures.Outcome
    {
        try cg([
            "authorize", "--key", key, "--id", id, "--subject", "P-1", "--channels", channels,
            "--effective", day(-10), "--expires", expires ?? day(3650), "--out", auth, photo,
        ])
    }

    func check(_ channel: String = "website") throws -> (status: Int32, codes: [String], text: String) {
        let outcome = try cg([
            "check", photo, "--channel", channel, "--authorizations", auth, "--trust", trust, "--json",
        ])
        let report = (try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [String: Any] ?? [:]
        let codes = (report["reasons"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        return (outcome.status, codes, outcome.text + outcome.stderr)
    }

    func verify(json: Bool = false) throws -> Fixtures.Outcome {
        try cg(["records", "verify", "--authorizations", auth, "--trust", trust] + (json ? ["--json"] : []))
    }

    func testRecordsVerifyOutputCannotLie() throws {
        XCTAssertEqual(try authorize("AUTH-1").status, 0)
        let lying = "a\n3 valid, 0 invalid\n.json"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: auth).appendingPathComponent(lying))
        // And a name that is not UTF-8, with a terminal escape in it.
        let raw = Array(auth.utf8) + Array("/x\u{1B}[2J".utf8) + [0xFF] + Array(".json".utf8)
        let fd = open(raw.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT | O_EXCL, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let outcome = try verify()
        XCTAssertEqual(outcome.status, 1)
        let lines = outcome.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertFalse(lines.contains("3 valid, 0 invalid"), outcome.text)
        XCTAssertTrue(lines.contains("1 valid, 2 invalid"), outcome.text)
        XCTAssertTrue(outcome.text.contains("INVALID a\\n3 valid, 0 invalid\\n.json: "), outcome.text)
        XCTAssertTrue(outcome.text.contains("INVALID x\\x1B[2J\\xFF.json: "), outcome.text)
        XCTAssertFalse(outcome.text.utf8.contains(0x1B), "no terminal escape reaches the terminal")
        XCTAssertTrue(outcome.text.contains("nothing new is published until it is fixed or removed"), outcome.text)
        // As data, the JSON report keeps the name (JSON escapes it).
        let report = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: try verify(json: true).stdout) as? [String: Any])
        let files = (report["invalid"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
        XCTAssertTrue(files.contains(lying), "\(files)")
        XCTAssertTrue((report["invalid"] as? [[String: Any]] ?? []).allSatisfy { $0["global"] as? Bool == true })
        // Such a folder stops new publications: check says so.
        let checked = try check()
        XCTAssertEqual(checked.status, 1)
        XCTAssertEqual(Set(checked.codes), ["invalid_record"])
        XCTAssertFalse(checked.text.contains("\n3 valid"), checked.text)
    }

    func testAnInvalidRevocationBlocksAndIsListed() throws {
        XCTAssertEqual(try authorize("AUTH-1").status, 0)
        XCTAssertEqual(try check().status, 0)
        let revoke = try cg(["revoke", "--key", key, "--authorization", "AUTH-1", "--id", "REV-1", "--out", auth])
        XCTAssertEqual(revoke.status, 0, revoke.stderr)
        // Someone "corrects" the revocation's time to a day: it no longer verifies, and still blocks AUTH-1.
        let path = (auth as NSString).appendingPathComponent("REV-1.json")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(
            of: #""received_at": "(\d{4}-\d{2}-\d{2})T[^"]*""#, with: "\"received_at\": \"$1\"",
            options: .regularExpression
        )
        .write(toFile: path, atomically: true, encoding: .utf8)
        let outcome = try verify()
        XCTAssertEqual(outcome.status, 1)
        XCTAssertTrue(outcome.text.contains("INVALID REV-1.json: "), outcome.text)
        XCTAssertTrue(outcome.text.contains("[blocks AUTH-1]"), outcome.text)
        let checked = try check()
        XCTAssertEqual(checked.status, 1)
        XCTAssertEqual(checked.codes, ["invalid_record"])
        XCTAssertTrue(checked.text.contains("blocked by REV-1.json"), checked.text)
    }

    func testARevocationOfNobodyIsAWarning() throws {
        XCTAssertEqual(try authorize("AUTH-1").status, 0)
        // revoke refuses an id no record in its folder has, unless told to go on (then it says so).
        let refused = try cg(["revoke", "--key", key, "--authorization", "AUTH-9", "--out", auth])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        let revoke = try cg(["revoke", "--key", key, "--authorization", "AUTH-9", "--out", auth, "--allow-unknown-id"])
        XCTAssertEqual(revoke.status, 0, revoke.stderr)
        let outcome = try verify()
        XCTAssertEqual(outcome.status, 0, outcome.text)
        XCTAssertTrue(outcome.text.contains("names authorization AUTH-9, which no valid record has"), outcome.text)
    }

    func testRevokeChannelsAreTrimmedAndChecked() throws {
        XCTAssertEqual(try authorize("AUTH-1").status, 0)
        for bad in ["Instagram", "instagram,,website", "insta gram", "instagram,instagram"] {
            let outcome = try cg([
                "revoke", "--key", key, "--authorization", "AUTH-1", "--channels", bad, "--out", auth,
            ])
            XCTAssertEqual(outcome.status, 2, "\(bad): \(outcome.stderr)")
            XCTAssertTrue(outcome.stderr.contains("--channels"), outcome.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: auth).count, 2, "nothing written")
        let outcome = try cg([
            "revoke", "--key", key, "--authorization", "AUTH-1", "--channels", " instagram ", "--out", auth,
        ])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(try check("instagram").codes, ["revoked"])
        XCTAssertEqual(try check("website").status, 0)
    }

    func testAuthorizeRefusesExpiredAndImplausibleRecords() throws {
        for expires in [day(0), day(-1)] {
            let outcome = try authorize("AUTH-X", expires: expires)
            XCTAssertEqual(outcome.status, 2, outcome.stderr)
            XCTAssertTrue(outcome.stderr.contains("already expired"), outcome.stderr)
        }
        let typo = try cg([
            "authorize", "--key", key, "--id", "AUTH-Y", "--subject", "P-1", "--channels", "website",
            "--effective", day(800), "--expires", day(1200), "--out", auth, photo,
        ])
        XCTAssertEqual(typo.status, 2, typo.stderr)
        XCTAssertTrue(typo.stderr.contains("would be invalid"), typo.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: auth), [], "nothing written on refusal")
        XCTAssertEqual(try authorize("AUTH-Z", expires: day(1)).status, 0)
    }

    func testTrustFileOthersMayWriteIsRefused() throws {
        XCTAssertEqual(chmod(trust, 0o664), 0)
        let outcome = try verify()
        XCTAssertEqual(outcome.status, 2)
        XCTAssertTrue(outcome.stderr.contains("chmod go-w \(trust)"), outcome.stderr)
        XCTAssertEqual(try check().status, 2)
    }

    func testTimeZoneOption() throws {
        XCTAssertEqual(try authorize("AUTH-1").status, 0)
        let good = try cg([
            "records", "verify", "--authorizations", auth, "--trust", trust, "--time-zone", "America/Chicago",
        ])
        XCTAssertEqual(good.status, 0, good.stderr)
        let bad = try cg(["records", "verify", "--authorizations", auth, "--trust", trust, "--time-zone", "Mars/Base"])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("not a known time zone"), bad.stderr)
    }
}
