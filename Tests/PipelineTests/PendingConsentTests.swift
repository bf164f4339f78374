import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// When consent comes later: pending quarantines released once their record arrives, the privacy office's list,
/// authorizing by fingerprint, one publication per picture, the notify command and `check --output`.
final class PendingConsentTests: PipelineTestCase {
    /// A picture no demo record lists, made by ffmpeg (unique per `seed`).
    func unrecordedPicture(_ name: String, seed: Int = 0) throws -> URL {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let url = root.appendingPathComponent(name)
        let outcome = try Fixtures.run(
            ffmpeg,
            [
                "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=1:duration=\(seed + 1)", "-frames:v", "1",
                "-vf", "select=eq(n\\,\(seed))", "-y", url.path,
            ])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return url
    }

    func quarantineList() throws -> [[String: Any]] {
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["quarantine", "list", "--pipeline", pipeline, "--json"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return (try JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]] ?? []
    }

    func authorize(_ arguments: [String]) throws -> Fixtures.Outcome {
        try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--subject", "P-LATER-1", "--channels", "website",
                "--effective", "2026-01-01", "--expires", "2036-01-01", "--out", records.path,
            ] + arguments)
    }

    func testAPictureDroppedBeforeItsConsentIsReleasedByTheNextRunAfterAuthorize() throws {
        let picture = try unrecordedPicture("before-consent.jpg")
        try FileManager.default.createDirectory(
            at: inbox.appendingPathComponent("ward-7"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent("ward-7/knee before.jpg"))
        let first = try runPipeline()
        XCTAssertEqual(first.status, 1, "\(first.summary)")
        XCTAssertEqual(first.summary["quarantined"] as? Int, 1)
        let listed = try quarantineList()
        XCTAssertEqual(listed.count, 1)
        let entry = try XCTUnwrap(listed.first)
        XCTAssertEqual(entry["pending"] as? Bool, true, "\(entry)")
        XCTAssertEqual(entry["subfolder"] as? String, "ward-7")
        XCTAssertEqual(entry["original_name"] as? String, "ward-7/knee before.jpg")
        let asset = try XCTUnwrap(entry["asset"] as? String)
        let content = try XCTUnwrap(entry["presented_sha256"] as? String)
        // Nothing changes while no record lists it.
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 0)
        // The officer records the consent by the fingerprint the list shows; the next run publishes it.
        let recorded = try authorize(["--id", "AUTH-LATER-1", "--presented-sha256", content])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let released = try runPipeline()
        XCTAssertEqual(released.status, 0, "\(released.summary)")
        XCTAssertEqual(released.summary["released"] as? Int, 1, "\(released.summary)")
        XCTAssertEqual(files(folder("publish")), [asset + ".jpg"], "released under its own asset id")
        XCTAssertEqual(files(folder("archive")), [asset + ".jpg"])
        XCTAssertEqual(files(folder("quarantine")), [], "the original and its reason file left the quarantine")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='released' AND asset='\(asset)'"), "1")
        XCTAssertEqual(try quarantineList().count, 0)
        XCTAssertEqual(try runPipeline().status, 0, "the released picture stays published")
    }

    func testRecheckDecidesThePendingOnesNowWithoutTakingNewFiles() throws {
        let picture = try unrecordedPicture("later.jpg", seed: 2)
        try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent("later.jpg"))
        XCTAssertEqual(try runPipeline().status, 1)
        let content = try XCTUnwrap(try quarantineList().first?["presented_sha256"] as? String)
        XCTAssertEqual(try authorize(["--id", "AUTH-LATER-3", "--presented-sha256", content]).status, 0)
        try drop("demo-phone-photo.jpg", as: "new.jpg")
        let recheck = try Fixtures.run(try Fixtures.consentgate, ["quarantine", "recheck", "--pipeline", pipeline])
        XCTAssertEqual(recheck.status, 0, recheck.text + recheck.stderr)
        XCTAssertTrue(recheck.text.contains("1 released"), recheck.text)
        XCTAssertEqual(files(folder("publish")).count, 1)
        XCTAssertEqual(files(inbox), ["new.jpg"], "recheck takes no new file")
    }

    func testOnlyCurableQuarantinesArePendingAndOnlyForPendingDays() throws {
        // Revoked (AUTH-DEMO-0005): never released, whatever record comes later.
        try drop("demo-portrait.jpg", as: "portrait.jpg")
        try FileManager.default.copyItem(
            at: try unrecordedPicture("late.jpg", seed: 1), to: inbox.appendingPathComponent("late.jpg"))
        try writePipeline(settle: 0, extra: "pending_days: 0")
        XCTAssertEqual(try runPipeline().status, 1)
        for entry in try quarantineList() {
            XCTAssertEqual(entry["pending"] as? Bool, false, "\(entry)")
            XCTAssertNotNil(entry["not_pending_because"] as? String)
        }
        // pending_days: 0 — the curable one is not decided again, even once its record exists.
        let late = try XCTUnwrap(try quarantineList().first { ($0["original_name"] as? String) == "late.jpg" })
        XCTAssertEqual(
            try authorize(["--id", "AUTH-LATE-2", "--presented-sha256", try XCTUnwrap(late["presented_sha256"] as? String)])
                .status, 0)
        XCTAssertEqual(try runPipeline().summary["released"] as? Int, 0)
    }

    func testASecondCopyOfALivePictureIsArchivedAsADuplicate() throws {
        try drop("demo-phone-photo.jpg", as: "first.jpg")
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 1)
        // The same picture again (other bytes after EOI, so another file), twice in one run.
        try drop("demo-phone-photo.jpg", as: "again-1.jpg", trailer: Array("one".utf8))
        try drop("demo-phone-photo.jpg", as: "again-2.jpg", trailer: Array("two".utf8))
        let result = try runPipeline()
        XCTAssertEqual(result.status, 0, "\(result.summary)")
        XCTAssertEqual(result.summary["duplicates"] as? Int, 2, "\(result.summary)")
        XCTAssertEqual(files(folder("publish")).count, 1)
        XCTAssertEqual(files(folder("archive")).count, 3, "every original is kept")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='duplicate'"), "2")
    }

    func testTheNotifyCommandHearsOfEveryEventAndItsFailureChangesNoOutcome() throws {
        let log = root.appendingPathComponent("notified.jsonl")
        let script = root.appendingPathComponent("notify.sh")
        try "#!/bin/sh\ncat >> \(log.path)\necho >> \(log.path)\n".write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        try writePipeline(settle: 0, extra: "notify: notify.sh")
        try drop("demo-phone-photo.jpg", as: "Jane Doe MRN 12345.jpg")
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        XCTAssertEqual(try runPipeline().status, 1)
        try revoke("AUTH-DEMO-0001")
        let revoked = try runPipeline()
        XCTAssertEqual(revoked.summary["retracted"] as? Int, 1)
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        let events = lines.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        XCTAssertEqual(Set(events.compactMap { $0["event"] as? String }), ["published", "quarantined", "retracted"])
        let retraction = try XCTUnwrap(events.first { $0["event"] as? String == "retracted" })
        XCTAssertTrue((retraction["action"] as? String ?? "").contains("take down every post"), "\(retraction)")
        XCTAssertFalse(try String(contentsOf: log, encoding: .utf8).contains("Jane"), "an original name was sent")
        // A failing command: counted, in the exit status, never changing an outcome, sent again by the next run.
        try "#!/bin/sh\nexit 3\n".write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        try drop("demo-group-photo.jpg", as: "c.jpg")
        let failing = try runPipeline()
        XCTAssertEqual(failing.status, 1, "a failed notice must show in the exit status: \(failing.summary)")
        XCTAssertEqual(failing.summary["notify_failures"] as? Int, 1, "\(failing.summary)")
        XCTAssertEqual(failing.summary["published"] as? Int, 1)
        try "#!/bin/sh\ncat >> \(log.path)\necho >> \(log.path)\n".write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        let retried = try runPipeline()
        XCTAssertEqual(retried.status, 0, "\(retried.summary)")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='notify_sent'"), "1", "the failed notice was not sent again")
        XCTAssertEqual(try runPipeline().status, 0)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='notify_sent'"), "1", "sent twice")
        // A command that hangs and leaves a child behind: the whole group is stopped at the limit.
        try "#!/bin/sh\ncat > /dev/null\nsleep 300 &\nsleep 300\n".write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        try drop("demo-clip.mp4", as: "d.mp4")
        let started = Date()
        let hanging = try runPipeline()
        XCTAssertLessThan(Date().timeIntervalSince(started), 40, "a hanging notify command held the run")
        XCTAssertEqual(hanging.summary["notify_failures"] as? Int, 1, "\(hanging.summary)")
    }

    func testAuthorizeRefusesWhatIsNotMediaAndCheckWritesACleanCopyOnlyWhenPublishable() throws {
        let text = Fixtures.sampleMedia.appendingPathComponent("not-a-picture.jpg").path
        let refused = try authorize(["--id", "AUTH-TEXT-1", text])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("not a picture or video"), refused.stderr)
        XCTAssertEqual(try authorize(["--id", "AUTH-BAD-1", "--presented-sha256", "abc"]).status, 2)
        let clean = root.appendingPathComponent("clean.jpg").path
        let phone = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path
        let check = try Fixtures.run(try Fixtures.consentgate, ["check", phone, "--pipeline", pipeline, "--output", clean])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.text.contains("kept on publishing"), check.text)
        let written = try Fixtures.bytes(URL(fileURLWithPath: clean))
        XCTAssertNil(Data(written).range(of: Data("DemoCam".utf8)), "the clean copy still has metadata")
        let camera = Fixtures.sampleMedia.appendingPathComponent("demo-camera-photo.jpg").path
        let other = root.appendingPathComponent("other.jpg").path
        let expired = try Fixtures.run(try Fixtures.consentgate, ["check", camera, "--pipeline", pipeline, "--output", other])
        XCTAssertEqual(expired.status, 1)
        XCTAssertTrue(expired.text.contains("what to do:"), expired.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: other), "written although not publishable")
        // Never over an existing file without --overwrite, never into the pipeline's places, never for another moment.
        XCTAssertEqual(
            try Fixtures.run(try Fixtures.consentgate, ["check", phone, "--pipeline", pipeline, "--output", clean]).status, 2)
        XCTAssertEqual(
            try Fixtures.run(
                try Fixtures.consentgate, ["check", phone, "--pipeline", pipeline, "--output", clean, "--overwrite"]
            ).status, 0)
        let intoRecords = records.appendingPathComponent("AUTH-DEMO-0002.json").path
        let before = try Data(contentsOf: URL(fileURLWithPath: intoRecords))
        let overRecord = try Fixtures.run(
            try Fixtures.consentgate, ["check", phone, "--pipeline", pipeline, "--output", intoRecords, "--overwrite"])
        XCTAssertEqual(overRecord.status, 2, overRecord.text)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: intoRecords)), before, "a record was replaced")
        let asOf = try Fixtures.run(
            try Fixtures.consentgate,
            ["check", phone, "--pipeline", pipeline, "--output", root.appendingPathComponent("x.jpg").path, "--as-of",
             "2026-06-01T00:00:00Z"])
        XCTAssertEqual(asOf.status, 2, asOf.stderr)
    }
}
