import Foundation
import TestSupport
import XCTest

/// Evidence has a home and records carry what an auditor expects (issue #26): `authorize --defaults`, the signed
/// form stored by its SHA-256 (`--form`, `--evidence-folder`), `records verify --evidence-folder`, and a document
/// saved into the authorizations folder by mistake.
final class OfficeRecordsTests: PrivacyOfficeTestCase {
    var evidence: String { folder.appendingPathComponent("evidence").path }

    func day(_ days: Double) -> String {
        String(ISO8601DateFormatter().string(from: Date().addingTimeInterval(days * 86_400)).prefix(10))
    }

    /// A small stand-in for a signed form: a PDF's first bytes, then text.
    func form(_ name: String, text: String = "Signed marketing authorization form", in place: String? = nil) throws
        -> String
    {
        let path = ((place ?? folder.path) as NSString).appendingPathComponent(name)
        try Data(("%PDF-1.4\n% " + text + "\n%%EOF\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func sha256(_ path: String) throws -> String {
        String(try Fixtures.run("/usr/bin/sha256sum", [path]).text.prefix(64))
    }

    func authorize(_ id: String, _ extra: [String]) throws -> Fixtures.Outcome {
        try cg(
            [
                "authorize", "--key", key, "--id", id, "--subject", "P-\(id)", "--channels", "website",
                "--effective", day(-1), "--expires", day(3650), "--out", auth, photo,
            ] + extra)
    }

    func testAuthorizeWithTheOfficeDefaultsWritesARecordVerifyHasNoWarningFor() throws {
        let defaults = folder.appendingPathComponent("office-defaults.yml").path
        try """
        covered_entity: Example Clinic (DEMO)
        recipients: [Example Clinic marketing team]
        recorded_by: office-7
        template_id: MKT-AUTH-v3
        signer: patient
        """.write(toFile: defaults, atomically: true, encoding: .utf8)
        // Without the defaults: the warning an auditor's fields are missing.
        XCTAssertEqual(try authorize("AUTH-PLAIN", []).status, 0)
        let plain = try cg(["records", "verify", "--authorizations", auth, "--trust", trust])
        XCTAssertTrue(plain.text.contains("warning AUTH-PLAIN: missing fields an auditor expects"), plain.text)
        try FileManager.default.removeItem(atPath: auth + "/AUTH-PLAIN.json")
        try FileManager.default.removeItem(atPath: auth + "/AUTH-PLAIN.json.minisig")

        let made = try authorize("AUTH-DEF", ["--defaults", defaults, "--signed-on", day(-1)])
        XCTAssertEqual(made.status, 0, made.stderr)
        let verify = try cg(["records", "verify", "--authorizations", auth, "--trust", trust])
        XCTAssertEqual(verify.status, 0, verify.output)
        XCTAssertFalse(verify.output.contains("warning"), verify.output)
        let record = try String(contentsOfFile: auth + "/AUTH-DEF.json", encoding: .utf8)
        for field in ["Example Clinic (DEMO)", "office-7", "MKT-AUTH-v3", "\"patient\""] {
            XCTAssertTrue(record.contains(field), record)
        }
        // An option wins over the file; an unknown key in the file is refused.
        XCTAssertEqual(
            try authorize("AUTH-OVR", ["--defaults", defaults, "--recorded-by", "office-9"]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: auth + "/AUTH-OVR.json", encoding: .utf8).contains("office-9"))
        try "covered_entity: X\nfavourite_colour: blue\n".write(toFile: defaults, atomically: true, encoding: .utf8)
        let refused = try authorize("AUTH-BAD", ["--defaults", defaults])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("unknown key favourite_colour"), refused.stderr)
    }

    func testTheSignedFormIsStoredByItsHashAndRecordsVerifyChecksIt() throws {
        try FileManager.default.createDirectory(atPath: evidence, withIntermediateDirectories: true)
        let signed = try form("scan 0001.PDF")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: signed))
        let hash = try sha256(signed)
        let made = try authorize("AUTH-EV", ["--form", signed, "--evidence-folder", evidence])
        XCTAssertEqual(made.status, 0, made.stderr)
        let stored = evidence + "/" + hash + ".pdf"
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stored)), bytes)
        let mode = try FileManager.default.attributesOfItem(atPath: stored)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o640)
        XCTAssertTrue(
            try String(contentsOfFile: auth + "/AUTH-EV.json", encoding: .utf8).contains("\"document_sha256\": \"\(hash)\""))
        // The revocation letter too.
        let letter = try form("letter.pdf", text: "I withdraw my consent")
        let revoked = try cg(
            ["revoke", "--key", key, "--authorization", "AUTH-EV", "--evidence", letter, "--evidence-folder", evidence,
             "--out", auth])
        XCTAssertEqual(revoked.status, 0, revoked.stderr)
        let letterHash = try sha256(letter)
        XCTAssertTrue(FileManager.default.fileExists(atPath: evidence + "/" + letterHash + ".pdf"))

        let verify = ["records", "verify", "--authorizations", auth, "--trust", trust, "--evidence-folder", evidence]
        let good = try cg(verify)
        XCTAssertEqual(good.status, 0, good.output)
        XCTAssertFalse(good.text.contains("EVIDENCE"), good.text)
        // Altered: found and named.
        chmod(stored, 0o640)
        try Data("%PDF-1.4 altered".utf8).write(to: URL(fileURLWithPath: stored))
        let altered = try cg(verify)
        XCTAssertEqual(altered.status, 1, altered.output)
        XCTAssertTrue(altered.text.contains("EVIDENCE AUTH-EV: \(hash) was altered"), altered.text)
        // Missing: found and named.
        try FileManager.default.removeItem(atPath: evidence + "/" + letterHash + ".pdf")
        let missing = try cg(verify)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.text.contains("\(letterHash) is missing from the evidence folder"), missing.text)
        // Storing the same form again is no error and replaces nothing; other bytes under its name are refused.
        let again = try authorize("AUTH-EV2", ["--form", signed, "--evidence-folder", evidence])
        XCTAssertEqual(again.status, 2, "the altered file under the form's name must not be replaced")
        XCTAssertTrue(again.stderr.contains("nothing replaced"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stored)), Data("%PDF-1.4 altered".utf8))
    }

    func testADocumentSavedIntoTheAuthorizationsFolderIsNamedAndNoLongerStopsAllPublishing() throws {
        XCTAssertEqual(try authorize("AUTH-KEEP", []).status, 0)
        XCTAssertEqual(try authorize("AUTH-NAMED", []).status, 0)
        // A signed form saved into the authorizations folder: a document that names no authorization...
        _ = try form("signed form.pdf", in: auth)
        // ...one that names AUTH-NAMED in its bytes, and a text file, which stays a doubt that stops everything.
        _ = try form("letter.pdf", text: "Please withdraw AUTH-NAMED", in: auth)
        let report = try cg(["records", "verify", "--authorizations", auth, "--trust", trust, "--json"])
        XCTAssertEqual(report.status, 1, report.output)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        let invalid = try XCTUnwrap(json["invalid"] as? [[String: Any]])
        let form = try XCTUnwrap(invalid.first { $0["file"] as? String == "signed form.pdf" })
        XCTAssertEqual(form["global"] as? Bool, false, "\(form)")
        XCTAssertTrue((form["reason"] as? String ?? "").hasPrefix("a document, not a record: it belongs in the evidence folder"))
        let letter = try XCTUnwrap(invalid.first { $0["file"] as? String == "letter.pdf" })
        XCTAssertEqual(letter["blocks"] as? [String], ["AUTH-NAMED"], "\(letter)")
        XCTAssertEqual(letter["global"] as? Bool, false)
        // A file named .pdf whose bytes are no document is still a doubt that holds everything.
        try Data("AUTH notes".utf8).write(to: URL(fileURLWithPath: auth + "/notes.pdf"))
        let text = try cg(["records", "verify", "--authorizations", auth, "--trust", trust, "--json"])
        let again = try XCTUnwrap(try JSONSerialization.jsonObject(with: text.stdout) as? [String: Any])
        let notes = try XCTUnwrap((again["invalid"] as? [[String: Any]])?.first { $0["file"] as? String == "notes.pdf" })
        XCTAssertEqual(notes["global"] as? Bool, true, "\(notes)")
    }
}
