import Foundation
import TestSupport
import XCTest

/// The gate's side of the privacy office's app (issue #26): `review --export DIR` and `office_export:` write the
/// cards' data and metadata-free previews (0640 in 0750 folders), say who has consented to a group picture and who
/// is missing, and what cures each card, who can act and the exact command; the review page names the consented.
final class OfficeExportTests: PipelineTestCase {
    var export: URL { root.appendingPathComponent("office-export") }

    func cards(_ folder: URL) throws -> [[String: Any]] {
        let data = try Data(contentsOf: folder.appendingPathComponent("cards.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "consentgate.office-export/v1")
        return try XCTUnwrap(json["cards"] as? [[String: Any]])
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func testTheExportSaysWhoConsentedWhatCuresEachCardAndHoldsNoOriginalBytes() throws {
        // The YCCK print: AUTH-DEMO-0004 (P-DEMO-0004) says two people are in it, only one consented.
        try drop("demo-ycck-print.jpg", as: "print.jpg")
        try drop("demo-portrait.jpg", as: "portrait.jpg")  // revoked
        try drop("not-a-picture.jpg", as: "notes.jpg")
        XCTAssertEqual(try runPipeline().status, 1)

        let made = try Fixtures.run(
            try Fixtures.consentgate, ["review", "--pipeline", pipeline, "--export", export.path])
        XCTAssertEqual(made.status, 0, made.output)
        XCTAssertEqual(try mode(export.path), 0o750)
        XCTAssertEqual(try mode(export.appendingPathComponent("previews").path), 0o750)
        XCTAssertEqual(try mode(export.appendingPathComponent("cards.json").path), 0o640)
        let all = try cards(export)
        XCTAssertEqual(all.count, 3)
        let print = try XCTUnwrap(all.first { $0["original_name"] as? String == "print.jpg" })
        XCTAssertEqual(print["status"] as? String, "pending")
        let consent = try XCTUnwrap(print["consent"] as? [String: Any])
        XCTAssertEqual(consent["required"] as? Int, 2)
        XCTAssertEqual(consent["consented"] as? [String], ["P-DEMO-0004"])
        XCTAssertEqual(consent["missing"] as? Int, 1)
        let holders = try XCTUnwrap(consent["holders"] as? [[String: Any]])
        XCTAssertEqual(holders.first?["id"] as? String, "AUTH-DEMO-0004")
        let action = try XCTUnwrap(print["action"] as? [String: Any])
        XCTAssertEqual(action["who_can_act"] as? String, "the privacy office")
        XCTAssertTrue((action["cure"] as? String ?? "").contains("1 of 2 people consented (P-DEMO-0004)"), "\(action)")
        XCTAssertTrue((action["command"] as? String ?? "").hasPrefix("consentgate authorize"))

        // Revoked and not a picture: the service account acts, with the exact command.
        for name in ["portrait.jpg", "notes.jpg"] {
            let card = try XCTUnwrap(all.first { $0["original_name"] as? String == name })
            XCTAssertEqual(card["status"] as? String, "person")
            let action = try XCTUnwrap(card["action"] as? [String: Any])
            XCTAssertTrue((action["who_can_act"] as? String ?? "").contains("service account"), "\(action)")
            XCTAssertTrue(
                (action["command"] as? String ?? "").hasPrefix("consentgate quarantine purge --pipeline "), "\(action)")
        }

        // Previews: fresh JPEGs without any APPn segment or the originals' metadata; never an original's bytes.
        let previews = files(export.appendingPathComponent("previews"))
        XCTAssertEqual(previews.count, 2, "\(previews)")
        let originals = try files(folder("quarantine")).filter { !$0.hasSuffix(".json") }.map {
            try Data(contentsOf: folder("quarantine").appendingPathComponent($0))
        }
        for name in previews {
            let path = export.appendingPathComponent("previews/\(name)").path
            XCTAssertEqual(try mode(path), 0o640)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual(Array(bytes.prefix(2)), [0xFF, 0xD8])
            XCTAssertFalse((0xE0...0xEF).contains(bytes[3]), "an APPn marker in the preview")
            XCTAssertFalse(originals.contains(Data(bytes)))
            for leak in ["Exif", "DemoCam", "Demo-Doe", "DEMO-SN", "ICC_PROFILE"] {
                XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains(leak), leak)
            }
        }

        // The review page names whose authorization exists.
        let page = root.appendingPathComponent("review.html").path
        XCTAssertEqual(
            try Fixtures.run(try Fixtures.consentgate, ["review", "--pipeline", pipeline, "--out", page]).status, 0)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.contains("1 of 2 people consented (P-DEMO-0004); 1 missing"), html)
        // Revoked and not a picture: who can act and the exact command, on the page too.
        XCTAssertTrue(html.contains("Who can act: the service account"), html)
        XCTAssertTrue(html.contains("consentgate quarantine purge --pipeline "), html)
    }

    func testTheExportIsRefreshedAfterEachRunAndNeverWritesIntoAFolderItDidNotMake() throws {
        try writePipeline(settle: 0, extra: "office_export: office-export")
        try drop("demo-ycck-print.jpg", as: "print.jpg")
        XCTAssertEqual(try runPipeline().status, 1)
        XCTAssertEqual(try cards(export).count, 1)
        // The second person's authorization: the next run publishes it, and the export has no card left.
        let print = try XCTUnwrap(try cards(export).first)
        let recorded = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--id", "AUTH-SECOND", "--subject", "P-SECOND", "--channels",
                "website", "--effective", "2026-01-01", "--expires", "2036-01-01", "--out", records.path,
                "--presented-sha256", try XCTUnwrap(print["presented_sha256"] as? String),
            ])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let released = try runPipeline()
        XCTAssertEqual(released.summary["released"] as? Int, 1, "\(released.summary)")
        XCTAssertEqual(try cards(export).count, 0)
        XCTAssertEqual(files(export.appendingPathComponent("previews")), [], "the stale preview is removed")

        // A folder with someone else's files is refused, and they are left alone.
        let foreign = root.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: foreign.appendingPathComponent("cards.json"))
        let refused = try Fixtures.run(
            try Fixtures.consentgate, ["review", "--pipeline", pipeline, "--export", foreign.path])
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(try Data(contentsOf: foreign.appendingPathComponent("cards.json")), Data("mine".utf8))
        // Never inside the pipeline's folders (previews in publish would be published).
        try writePipeline(settle: 0, extra: "office_export: out/publish/export")
        let layout = try Fixtures.run(try Fixtures.consentgate, ["review", "--pipeline", pipeline, "--out", "-"])
        XCTAssertEqual(layout.status, 2)
        XCTAssertTrue(layout.stderr.contains("office_export"), layout.stderr)
    }
}

/// A signed form saved into the authorizations folder by mistake (issue #26): named in the run's summary, but no
/// longer "NOTHING NEW PUBLISHED"; one whose bytes name an authorization still blocks that authorization.
final class DocumentInAuthorizationsTests: PipelineTestCase {
    func testADocumentInTheAuthorizationsFolderIsNamedButPublishingGoesOn() throws {
        try Data("%PDF-1.4\n% a signed form (DEMO)\n%%EOF\n".utf8).write(
            to: records.appendingPathComponent("signed form.pdf"))
        try drop("demo-phone-photo.jpg", as: "phone.jpg")
        let run = try runPipeline()
        XCTAssertEqual(run.status, 1, "the document is reported: a person should move it")
        XCTAssertEqual(run.summary["published"] as? Int, 1, "\(run.summary)")
        XCTAssertEqual((run.summary["publishing_stopped"] as? [Any])?.count, 0, "\(run.summary)")
        let invalid = summaryList(run.summary, "invalid_records")
        XCTAssertTrue(
            invalid.contains { ($0["reason"] as? String ?? "").hasPrefix("a document, not a record: it belongs in the evidence folder") },
            "\(invalid)")
    }
}

/// `authorize --pipeline`: the authorizations folder, `evidence:` and `office_defaults:` from the pipeline file.
final class AuthorizeFromThePipelineTests: PipelineTestCase {
    func testAuthorizeTakesTheFolderTheEvidenceAndTheDefaultsFromThePipeline() throws {
        let evidence = root.appendingPathComponent("evidence")
        try FileManager.default.createDirectory(at: evidence, withIntermediateDirectories: true)
        try """
        covered_entity: Example Clinic (DEMO)
        recipients: [Example Clinic marketing team]
        recorded_by: office-7
        template_id: MKT-AUTH-v3
        signer: patient
        """.write(to: root.appendingPathComponent("office-defaults.yml"), atomically: true, encoding: .utf8)
        try writePipeline(settle: 0, extra: "evidence: evidence\noffice_defaults: office-defaults.yml")
        let form = root.appendingPathComponent("form.pdf")
        try Data("%PDF-1.4\n% signed (DEMO)\n%%EOF\n".utf8).write(to: form)
        let made = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--pipeline", pipeline, "--id", "AUTH-PIPE-1", "--subject",
                "P-PIPE-1", "--channels", "website", "--effective", "2026-01-01", "--expires", "2036-01-01",
                "--signed-on", "2026-01-01", "--form", form.path, "--presented-sha256", String(repeating: "ab", count: 32),
            ])
        XCTAssertEqual(made.status, 0, made.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: records.appendingPathComponent("AUTH-PIPE-1.json").path))
        XCTAssertEqual(files(evidence).count, 1)
        let verify = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "records", "verify", "--authorizations", records.path, "--trust", root.appendingPathComponent("trust.yml").path,
                "--evidence-folder", evidence.path,
            ])
        XCTAssertFalse(verify.text.contains("warning AUTH-PIPE-1"), verify.text)
        XCTAssertFalse(verify.text.contains("EVIDENCE"), verify.text)
    }
}

/// An expired authorization's quarantine is pending (issue #26): a new record releases it at the next run, without
/// the file being dropped again.
final class ExpiredPendingTests: PipelineTestCase {
    var clockFile: URL { root.appendingPathComponent("clock-offset") }

    func clockedRun() throws -> (status: Int32, summary: [String: Any]) {
        let outcome = try Fixtures.run(
            "/usr/bin/env",
            ["CONSENTGATE_TEST_CLOCK_FILE=" + clockFile.path, try Fixtures.consentgate, "run", pipeline, "--json"],
            timeout: 120)
        let list = (try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]]
        return (outcome.status, list?.first ?? ["stderr": outcome.stderr])
    }

    func authorize(_ id: String, expires: String, _ picture: URL) throws {
        let recorded = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--id", id, "--subject", "P-EXPIRY-1", "--channels", "website",
                "--effective", "2026-01-01", "--expires", expires, "--out", records.path, picture.path,
            ])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
    }

    func testAPictureWhoseAuthorizationExpiredIsReleasedOnceANewOneCoversIt() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let picture = root.appendingPathComponent("expiring.jpg")
        let made = try Fixtures.run(
            ffmpeg,
            ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=1", "-frames:v", "1", "-y", picture.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let day = { (days: Double) in
            String(ISO8601DateFormatter().string(from: Date().addingTimeInterval(days * 86_400)).prefix(10))
        }
        try authorize("AUTH-EXPIRING", expires: day(2), picture)
        // Three days on, the authorization has expired when the picture is dropped.
        try String(3 * 86_400).write(to: clockFile, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent("expiring.jpg"))
        let first = try clockedRun()
        XCTAssertEqual(first.summary["quarantined"] as? Int, 1, "\(first.summary)")
        let listed = try Fixtures.run(
            "/usr/bin/env",
            ["CONSENTGATE_TEST_CLOCK_FILE=" + clockFile.path, try Fixtures.consentgate, "quarantine", "list",
             "--pipeline", pipeline, "--json"])
        let entries = (try JSONSerialization.jsonObject(with: listed.stdout)) as? [[String: Any]] ?? []
        XCTAssertEqual(entries.first?["pending"] as? Bool, true, "\(entries)")
        // A new authorization: the next run publishes it, with nothing dropped again.
        try authorize("AUTH-RENEWED", expires: "2036-01-01", picture)
        let second = try clockedRun()
        XCTAssertEqual(second.summary["released"] as? Int, 1, "\(second.summary)")
    }
}
