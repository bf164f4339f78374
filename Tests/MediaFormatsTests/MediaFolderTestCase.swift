import Foundation
import TestSupport
import XCTest

/// A test case with a fresh temporary folder per test and ffmpeg at hand: the setting of the ISO-BMFF tests that make
/// their movies with ffmpeg.
class MediaFolderTestCase: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func ffmpeg(_ arguments: [String]) throws {
        let outcome = try Fixtures.run(try Fixtures.requireTool("ffmpeg"), ["-v", "error", "-y"] + arguments)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
    }
}
