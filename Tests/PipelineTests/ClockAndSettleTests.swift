import Foundation
import TestSupport
import XCTest

/// Issue 30: a run decides consent and sweeps with the time at which it decides (an injected clock,
/// CONSENTGATE_TEST_CLOCK_FILE, moves it while the run waits), settle looks are kept per pipeline, and a quarantine
/// caused by a clock that was behind is released once the records verify again.
final class ClockAndSettleTests: PipelineTestCase {
    var clockFile: URL { root.appendingPathComponent("clock-offset") }

    func setClock(_ offset: Double) throws { try String(offset).write(to: clockFile, atomically: true, encoding: .utf8) }

    /// `consentgate ARGS` with the test clock, in the background or waited for.
    func clocked(_ arguments: [String]) -> [String] {
        ["CONSENTGATE_TEST_CLOCK_FILE=" + clockFile.path, (try? Fixtures.consentgate) ?? "consentgate"] + arguments
    }

    func summaryOf(_ outcome: Fixtures.Outcome) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]])?.first ?? ["stderr": outcome.stderr]
    }

    /// Two pictures (ffmpeg frames) authorized for the website until `expires` (yyyy-MM-dd).
    func pictures(expiring expires: String, id: String) throws -> [URL] {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let folder = root.appendingPathComponent("pictures-" + id)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let made = try Fixtures.run(
            ffmpeg,
            [
                "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=1", "-frames:v", "2", "-q:v", "2", "-y",
                folder.appendingPathComponent("p%d.jpg").path,
            ])
        XCTAssertEqual(made.status, 0, made.stderr)
        let pictures = [1, 2].map { folder.appendingPathComponent("p\($0).jpg") }
        let recorded = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--id", id, "--subject", "P-CLOCK-1", "--channels", "website",
                "--effective", "2026-01-01", "--expires", expires, "--out", records.path,
            ] + pictures.map(\.path))
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        return pictures
    }

    /// Dates every file in `folder` an hour back: a run records its first look at it and waits for it to settle.
    func age(_ folder: URL) throws {
        for name in files(folder) {
            try FileManager.default.setAttributes(
                [.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: folder.appendingPathComponent(name).path)
        }
    }

    static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }

    func testAnExpiryThatFallsWithinARunAppliesWithinIt() throws {
        let pictures = try pictures(expiring: Self.day(Date().addingTimeInterval(86_400)), id: "AUTH-CLOCK-1")
        try setClock(0)
        try FileManager.default.copyItem(at: pictures[0], to: inbox.appendingPathComponent("first.jpg"))
        let first = try Fixtures.run("/usr/bin/env", clocked(["run", pipeline, "--json"]), timeout: 120)
        XCTAssertEqual(summaryOf(first)["published"] as? Int, 1, first.stderr)
        // The next run starts before the expiry; while it waits for the new file to settle, the clock passes it.
        try writePipeline(settle: 3)
        try FileManager.default.copyItem(at: pictures[1], to: inbox.appendingPathComponent("second.jpg"))
        try age(inbox)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = clocked(["run", pipeline, "--json"])
        let out = root.appendingPathComponent("run.json")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while (try? sql("SELECT COUNT(*) FROM observations")) ?? "0" == "0" && Date() < deadline { usleep(50_000) }
        try setClock(2 * 86_400)
        process.waitUntilExit()
        let summary = ((try? JSONSerialization.jsonObject(with: Data(contentsOf: out))) as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(summary["published"] as? Int, 0, "published after its consent expired: \(summary)")
        XCTAssertEqual(summary["quarantined"] as? Int, 1, "\(summary)")
        XCTAssertEqual(summary["retracted"] as? Int, 1, "the closing sweep kept an expired publication: \(summary)")
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testARecordSignedInTheFutureByAClockBehindIsReleasedOnceTheClockIsRight() throws {
        let pictures = try pictures(expiring: "2036-01-01", id: "AUTH-CLOCK-2")
        try setClock(-2 * 3600)
        try FileManager.default.copyItem(at: pictures[0], to: inbox.appendingPathComponent("early.jpg"))
        let behind = try Fixtures.run("/usr/bin/env", clocked(["run", pipeline, "--json"]), timeout: 120)
        XCTAssertEqual(summaryOf(behind)["published"] as? Int, 0, behind.stderr)
        XCTAssertEqual(summaryOf(behind)["quarantined"] as? Int, 1, "\(summaryOf(behind))")
        try setClock(0)
        let right = try Fixtures.run("/usr/bin/env", clocked(["run", pipeline, "--json"]), timeout: 120)
        XCTAssertEqual(files(folder("publish")).count, 1, "still quarantined: \(summaryOf(right))")
    }

    func testTwoPipelinesSharingALedgerDoNotResetEachOthersSettleClock() throws {
        let picture = try pictures(expiring: "2036-01-01", id: "AUTH-SETTLE")[0]
        try writePipeline(settle: 3)
        let second = root.appendingPathComponent("second.yml").path
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8)
            .replacingOccurrences(of: "name: test-website", with: "name: test-website-2")
            .replacingOccurrences(of: "inbox: inbox,", with: "inbox: inbox2,")
            .replacingOccurrences(of: "out/publish", with: "out2/publish").replacingOccurrences(
                of: "out/quarantine", with: "out2/quarantine"
            ).replacingOccurrences(of: "out/archive", with: "out2/archive").replacingOccurrences(
                of: "out/retracted", with: "out2/retracted")
        try yaml.write(toFile: second, atomically: true, encoding: .utf8)
        let inbox2 = root.appendingPathComponent("inbox2")
        try FileManager.default.createDirectory(at: inbox2, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent("IMG_0001.jpg"))
        var bytes = try Data(contentsOf: picture)
        bytes.append(contentsOf: Array("another copy".utf8))
        try bytes.write(to: inbox2.appendingPathComponent("IMG_0001.jpg"))
        try age(inbox)
        try age(inbox2)
        let runs = try [pipeline, second].map { try start(["run", $0, "--json"]) }
        for run in runs { run.waitUntilExit() }
        XCTAssertEqual(files(inbox), [], "the first pipeline never took its file")
        XCTAssertEqual(files(inbox2), [], "the second pipeline never took its file")
    }
}
