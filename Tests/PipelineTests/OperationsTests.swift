import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// Operating the gate: cron that mails only when a person is needed, watch's log lines, the ledger's backup and
/// restore, retention of the originals it keeps.
final class OperationsTests: PipelineTestCase {
    func consentgate(_ arguments: [String]) throws -> Fixtures.Outcome {
        try Fixtures.run(try Fixtures.consentgate, arguments, timeout: 120)
    }

    /// One name for the fingerprint a record names: `--content-sha256` (a value copied from inspect's old key
    /// would make a record that matches nothing) is refused with what to use.
    func testTheOldFingerprintOptionIsRefusedWithWhatToUse() throws {
        let inspect = try consentgate([
            "inspect", "--json", Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path,
        ])
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: inspect.stdout) as? [String: Any])
        XCTAssertNil(report["content_sha256"], "the old key is gone from inspect --json")
        let legacy = try XCTUnwrap(report["legacy_content_sha256"] as? String)
        let refused = try consentgate([
            "authorize", "--key", try demoKey(), "--id", "AUTH-OLD-1", "--subject", "P-1", "--channels", "website",
            "--expires", "2036-01-01", "--out", records.path, "--content-sha256", legacy,
        ])
        XCTAssertEqual(refused.status, 2, refused.output)
        XCTAssertTrue(refused.stderr.contains("--presented-sha256"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: records.appendingPathComponent("AUTH-OLD-1.json").path))
    }

    func testRunQuietPrintsNothingWhenNothingNeedsAPerson() throws {
        let idle = try consentgate(["run", pipeline, "--quiet"])
        XCTAssertEqual(idle.status, 0)
        XCTAssertEqual(idle.output, "", "cron would mail this")
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let published = try consentgate(["run", pipeline, "--quiet"])
        XCTAssertEqual(published.status, 0)
        XCTAssertEqual(published.text, "")
        try drop("not-a-picture.jpg", as: "junk.jpg")
        let quarantined = try consentgate(["run", pipeline, "--quiet"])
        XCTAssertEqual(quarantined.status, 1)
        XCTAssertTrue(quarantined.text.contains("1 quarantined"), quarantined.output)
    }

    func testWatchLogsOneJSONLinePerOutcomeWithoutNames() throws {
        try writePipeline(settle: 0, extra: "rescan_seconds: 1")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
        process.arguments = ["watch", pipeline, "--log-format", "json"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try drop("demo-phone-photo.jpg", as: "Jane-Doe-MRN-12345.jpg")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && files(folder("publish")).isEmpty { usleep(200_000) }
        usleep(500_000)
        process.terminate()
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertFalse(text.contains("Jane"), "a file name reached the log: \(text)")
        let lines = text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
        }
        let outcome = try XCTUnwrap(lines.first { $0["message"] == "outcome" }, text)
        XCTAssertEqual(outcome["outcome"], "published")
        XCTAssertEqual(outcome["records"], "AUTH-DEMO-0001")
        XCTAssertEqual(outcome["asset"]?.count, 32)
        XCTAssertEqual(outcome["level"], "notice")
    }

    func testLedgerBackupAndRestore() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().status, 0)
        let backup = root.appendingPathComponent("backup/ledger.sqlite").path
        try FileManager.default.createDirectory(
            atPath: (backup as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let made = try consentgate(["ledger", "backup", "--pipeline", pipeline, "--to", backup])
        XCTAssertEqual(made.status, 0, made.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: backup + ".head"))
        // Never over an existing file.
        XCTAssertEqual(try consentgate(["ledger", "backup", "--pipeline", pipeline, "--to", backup]).status, 2)
        // The ledger is lost: the next run would withdraw the published picture. Restore it first.
        let publishedBefore = files(folder("publish"))
        try FileManager.default.removeItem(atPath: ledger)
        let restored = try consentgate(["ledger", "restore", "--pipeline", pipeline, "--from", backup])
        XCTAssertEqual(restored.status, 0, restored.output)
        XCTAssertEqual(try consentgate(["audit", "verify", "--pipeline", pipeline]).status, 0)
        let after = try runPipeline()
        XCTAssertEqual(after.status, 0, "\(after.summary)")
        XCTAssertEqual(files(folder("publish")), publishedBefore)
        // A second restore keeps the ledger it replaces.
        let again = try consentgate(["ledger", "restore", "--pipeline", pipeline, "--from", backup])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(files(root.appendingPathComponent("out")).contains { $0.contains(".before-restore-") })
        // A live ledger whose newest events were cut off (its head says more) gets no backup that would hide it.
        let cutCopy = root.appendingPathComponent("backup/cut.sqlite").path
        let events = try sql("SELECT COUNT(*) FROM events")
        _ = try sql("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)")
        let refused = try consentgate(["ledger", "backup", "--pipeline", pipeline, "--to", cutCopy])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cutCopy), "a backup covering up the cut was written")
        XCTAssertNotEqual(try sql("SELECT COUNT(*) FROM events"), events)
        // A backup whose events were cut off does not restore.
        let head = try String(contentsOfFile: backup + ".head", encoding: .utf8)
        let seq = Int(head.split(separator: " ")[0])!
        try "\(seq + 5) \(String(repeating: "0", count: 64))\n".write(toFile: backup + ".head", atomically: true, encoding: .utf8)
        let cut = try consentgate(["ledger", "restore", "--pipeline", pipeline, "--from", backup])
        XCTAssertEqual(cut.status, 1, cut.output)
    }

    func testPurgeKeepsPendingAndLiveOriginals() throws {
        try drop("demo-phone-photo.jpg", as: "published.jpg")
        try drop("not-a-picture.jpg", as: "junk.jpg")
        try drop("demo-before-consent.jpg", as: "waiting.jpg")
        _ = try runPipeline()
        XCTAssertEqual(files(folder("archive")).count, 1)
        XCTAssertEqual(files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }.count, 2)
        // Nothing is old enough yet.
        let young = try consentgate(["quarantine", "purge", "--pipeline", pipeline, "--older-than", "1", "--json"])
        XCTAssertEqual(young.status, 0, young.output)
        XCTAssertEqual(files(folder("quarantine")).count, 4)
        // A month on (the ledger's times moved back): the pending one (pending_days is 90) and the live
        // publication's original stay.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let monthAgo = formatter.string(from: Date().addingTimeInterval(-30 * 86_400))
        _ = try sql("UPDATE events SET at='\(monthAgo)'")
        let purged = try consentgate(["quarantine", "purge", "--pipeline", pipeline, "--older-than", "10", "--json"])
        XCTAssertEqual(purged.status, 0, purged.output)
        let outcome = try XCTUnwrap(try JSONSerialization.jsonObject(with: purged.stdout) as? [String: Any])
        XCTAssertEqual((outcome["purged"] as? [String])?.count, 1, purged.text)
        XCTAssertEqual((outcome["kept"] as? [String: String])?.count, 1, purged.text)
        let left = files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        XCTAssertEqual(left.count, 1)
        let archive = try consentgate(["archive", "purge", "--pipeline", pipeline, "--older-than", "10"])
        XCTAssertEqual(archive.status, 0, archive.output)
        XCTAssertEqual(files(folder("archive")).count, 1, "the live publication's original was removed")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='purged'"), "1")
    }
}
