import Foundation
import TestSupport
import XCTest

/// Issue 28: an idle run decides again neither its live publications nor its pending quarantines when nothing their
/// decisions depend on changed (`SweepMemo`: the same records, trust file and settings, before the records' next
/// date), and every change that could withdraw a publication or release a quarantine still does so on the next run.
final class SweepMemoTests: PipelineTestCase {
    var clockFile: URL { root.appendingPathComponent("clock-offset") }

    func setClock(_ offset: Double) throws { try String(offset).write(to: clockFile, atomically: true, encoding: .utf8) }

    /// `consentgate run --json` with the test clock.
    func clockedRun() throws -> [String: Any] {
        let outcome = try Fixtures.run(
            "/usr/bin/env",
            ["CONSENTGATE_TEST_CLOCK_FILE=" + clockFile.path, try Fixtures.consentgate, "run", pipeline, "--json"],
            timeout: 120)
        return ((try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]])?.first
            ?? ["stderr": outcome.stderr]
    }

    func count(_ summary: [String: Any], _ key: String) -> Int { summary[key] as? Int ?? -1 }

    /// One publication (`picture`, else the demo phone photo) and one pending quarantine (a picture no record
    /// lists), then runs until the memory holds both: events are stamped to the second, so a pass counts as
    /// decided only what was published two seconds before it started. Returns the last, idle, run's summary.
    func settledHistory(picture: URL? = nil) throws -> [String: Any] {
        try setClock(0)
        if let picture {
            try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent("a.jpg"))
        } else {
            try drop("demo-phone-photo.jpg", as: "a.jpg")
        }
        try drop("demo-before-consent.jpg", as: "b.jpg")
        let first = try clockedRun()
        XCTAssertEqual(count(first, "published"), 1, "\(first)")
        XCTAssertEqual(count(first, "quarantined"), 1, "\(first)")
        sleep(3)
        _ = try clockedRun()
        return try clockedRun()
    }

    func testAnIdleRunDecidesNoPublicationAndNoPendingQuarantineAgain() throws {
        let idle = try settledHistory()
        XCTAssertEqual(count(idle, "publications_redecided"), 0, "an idle run decided again: \(idle)")
        // One sweep: a run that handed nothing to the stages published nothing after its first sweep (issue 28).
        XCTAssertEqual(count(idle, "publications_kept"), 1, "an idle run sweeps once and keeps the decision: \(idle)")
        XCTAssertEqual(count(idle, "quarantines_redecided"), 0, "\(idle)")
        XCTAssertEqual(count(idle, "quarantines_kept"), 1, "\(idle)")
        XCTAssertEqual(count(idle, "retracted"), 0, "\(idle)")
        XCTAssertEqual(count(idle, "record_files_read"), 0, "an idle run read the records again: \(idle)")
        XCTAssertEqual(files(folder("publish")).count, 1)
        // A dry run neither uses nor keeps the memory: it decides everything.
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline, "--json", "--dry-run"], timeout: 120)
        let dry = ((try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(count(dry, "publications_redecided"), 1, "\(dry) \(outcome.stderr)")
        // A file dropped now is taken by the next run, which reads the records again.
        try drop("demo-camera-photo.jpg", as: "c.jpg")
        let busy = try clockedRun()
        XCTAssertGreaterThan(count(busy, "record_files_read"), 0, "\(busy)")
        XCTAssertEqual(files(inbox), [], "\(busy)")
    }

    func testARevocationAddedBetweenIdleRunsStillRetracts() throws {
        _ = try settledHistory()
        try revoke("AUTH-DEMO-0001")
        let next = try clockedRun()
        XCTAssertEqual(count(next, "retracted"), 1, "a revocation was passed over: \(next)")
        XCTAssertGreaterThan(count(next, "publications_redecided"), 0, "\(next)")
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testATrustFileThatBecameUnusableIsNotPassedOver() throws {
        _ = try settledHistory()
        // Its bytes unchanged, but group-writable now: no record can be verified with it, so nothing stays live.
        XCTAssertEqual(chmod(root.appendingPathComponent("trust.yml").path, 0o664), 0)
        let next = try clockedRun()
        XCTAssertEqual(count(next, "retracted"), 1, "an unusable trust file was passed over: \(next)")
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testAnExpiryPassingBetweenIdleRunsStillRetracts() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let picture = root.appendingPathComponent("expiring.jpg")
        let made = try Fixtures.run(
            ffmpeg,
            ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=1", "-frames:v", "1", "-y", picture.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        let recorded = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--id", "AUTH-MEMO-EXPIRES", "--subject", "P-MEMO-1", "--channels",
                "website", "--effective", "2026-01-01", "--expires", formatter.string(from: Date().addingTimeInterval(86_400)),
                "--out", records.path, picture.path,
            ])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let idle = try settledHistory(picture: picture)
        XCTAssertEqual(count(idle, "publications_redecided"), 0, "\(idle)")
        // Nothing in the folders changes; only the clock passes the expiry.
        try setClock(3 * 86_400)
        let later = try clockedRun()
        XCTAssertEqual(count(later, "retracted"), 1, "an expired consent was kept from memory: \(later)")
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testARecordEditedInPlaceKeepingItsSizeAndTimesIsReadAgain() throws {
        _ = try settledHistory()
        let record = records.appendingPathComponent("AUTH-DEMO-0001.json")
        let modified = try XCTUnwrap(
            try FileManager.default.attributesOfItem(atPath: record.path)[.modificationDate] as? Date)
        var text = try String(contentsOf: record, encoding: .utf8)
        let before = text.utf8.count
        text = text.replacingOccurrences(of: "\"instagram\"", with: "\"instagrax\"")
        XCTAssertEqual(text.utf8.count, before)
        try Data(text.utf8).write(to: record)
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: record.path)
        let next = try clockedRun()
        XCTAssertEqual(count(next, "retracted"), 1, "an altered record (bad signature) was not noticed: \(next)")
        XCTAssertGreaterThan(count(next, "publications_redecided"), 0, "\(next)")
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testConsentArrivingForAPendingQuarantineStillReleasesIt() throws {
        let idle = try settledHistory()
        XCTAssertEqual(count(idle, "quarantines_kept"), 1, "\(idle)")
        let listed = try Fixtures.run(try Fixtures.consentgate, ["quarantine", "list", "--pipeline", pipeline, "--json"])
        let entries = (try JSONSerialization.jsonObject(with: listed.stdout)) as? [[String: Any]] ?? []
        let content = try XCTUnwrap(entries.first?["presented_sha256"] as? String, "\(entries)")
        let recorded = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--id", "AUTH-MEMO-LATER", "--subject", "P-MEMO-2", "--channels",
                "website", "--effective", "2026-01-01", "--expires", "2036-01-01", "--out", records.path,
                "--presented-sha256", content,
            ])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let released = try clockedRun()
        XCTAssertEqual(count(released, "released"), 1, "a consent that arrived was passed over: \(released)")
        XCTAssertEqual(files(folder("publish")).count, 2)
    }

    /// A run that started seconds before its passes (here: waiting for the pipeline's lock; at scale: reading the
    /// records) still leaves memories the next run can use: each pass remembers the time it decided at, not the
    /// run's start (a memory decided after the time it names reads as no memory, and every run read everything).
    func testARunThatWaitedForTheLockLeavesMemoriesTheNextRunUses() throws {
        _ = try settledHistory()
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [work.appendingPathComponent(".lock").path, "sleep", "7"]
        try holder.run()
        defer {
            if holder.isRunning { holder.terminate() }
            holder.waitUntilExit()
        }
        usleep(500_000)
        let started = Date()
        let waited = try clockedRun()
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 5, "the run did not wait for the lock: \(waited)")
        XCTAssertEqual(count(waited, "record_files_read"), 0, "\(waited)")
        let next = try clockedRun()
        XCTAssertEqual(count(next, "record_files_read"), 0, "the waiting run left no usable memory: \(next)")
        XCTAssertEqual(count(next, "publications_redecided"), 0, "\(next)")
        XCTAssertEqual(count(next, "quarantines_redecided"), 0, "\(next)")
        XCTAssertEqual(count(next, "quarantines_kept"), 1, "\(next)")
    }

    func testAMemoryThatCannotBeReadMeansDecidingEverything() throws {
        _ = try settledHistory()
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM observations WHERE entry LIKE '%-memo:%'"), "2")
        _ = try sql("UPDATE observations SET mtime = 'not a memory' WHERE entry LIKE 'sweep-memo:%'")
        let next = try clockedRun()
        XCTAssertGreaterThan(count(next, "record_files_read"), 0, "\(next)")
        XCTAssertEqual(count(next, "publications_redecided"), 1, "\(next)")
        XCTAssertEqual(count(next, "publications_kept"), 0, "an idle run sweeps once: \(next)")
        XCTAssertEqual(files(folder("publish")).count, 1)
        // The memory that sweep left is used by the next run.
        let after = try clockedRun()
        XCTAssertEqual(count(after, "record_files_read"), 0, "\(after)")
        XCTAssertEqual(count(after, "publications_kept"), 1, "\(after)")
    }
}
