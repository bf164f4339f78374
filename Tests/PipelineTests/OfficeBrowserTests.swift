import Foundation
import TestSupport
import XCTest

/// The office app in a real browser (issue #26): Scripts/office-browser-test.py drives headless Chromium through
/// selenium (Debian's chromium, chromium-driver and python3-selenium; Scripts/test installs them): the group
/// picture's card says "1 of 2 consented", the second consent is recorded with its form file and shown before
/// signing, the next `run` publishes it; revoked in the app, the next run retracts it.
final class OfficeBrowserTests: OfficeAppTestCase {
    /// A Python with selenium, or nil.
    func python() throws -> String? {
        for candidate in ["/usr/bin/python3", "/usr/local/bin/python3"] + pathCandidates() {
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            if try Fixtures.run(candidate, ["-c", "import selenium"], timeout: 60).status == 0 { return candidate }
        }
        return nil
    }

    func pathCandidates() -> [String] {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { $0 + "/python3" }
    }

    func testAnOfficerRecordsTheSecondConsentAndRevokesItInTheBrowser() throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw XCTSkip("\(tool) is missing: apt-get install chromium chromium-driver (Scripts/test installs them)")
        }
        guard let python = try python() else {
            throw XCTSkip("selenium is missing: apt-get install python3-selenium (Scripts/test installs it)")
        }
        let script = Fixtures.packageRoot.appendingPathComponent("Scripts/office-browser-test.py").path
        try startOffice()
        let form = root.appendingPathComponent("signed-form.pdf")
        try Data("%PDF-1.4\n% the second person's signed authorization (DEMO)\n%%EOF\n".utf8).write(to: form)
        let shots = ProcessInfo.processInfo.environment["CONSENTGATE_OFFICE_SHOTS"]
        let common = ["--id", "AUTH-BROWSER-0001", "--subject", "P-BROWSER-2"] + (shots.map { ["--shots", $0] } ?? [])

        let recorded = try Fixtures.run(python, [script, "record", address, "--form", form.path] + common, timeout: 240)
        XCTAssertEqual(recorded.status, 0, recorded.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: records.appendingPathComponent("AUTH-BROWSER-0001.json").path))
        let published = try runPipeline()
        XCTAssertEqual(published.summary["released"] as? Int, 1, "\(published.summary)")

        let letter = root.appendingPathComponent("letter.pdf")
        try Data("%PDF-1.4\n% I withdraw my consent (DEMO)\n%%EOF\n".utf8).write(to: letter)
        let revoked = try Fixtures.run(python, [script, "revoke", address, "--letter", letter.path] + common, timeout: 240)
        XCTAssertEqual(revoked.status, 0, revoked.output)
        let retracted = try runPipeline()
        XCTAssertEqual(retracted.summary["retracted"] as? Int, 1, "\(retracted.summary)")
    }
}
