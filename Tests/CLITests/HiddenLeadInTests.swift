import Foundation
import TestSupport
import XCTest

/// `strip --max-hidden-lead-in` and `check --max-hidden-lead-in` (issue 22 item 2), through the sandboxed workers: a
/// clip cut with `ffmpeg -ss 2.3 -c copy` keeps 0.3 s of hidden lead-in, said in the output; the bound 0 refuses it.
final class HiddenLeadInTests: XCTestCase {
    func cutClip(_ folder: URL) throws -> String {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let whole = folder.appendingPathComponent("whole.mp4").path
        let made = try Fixtures.run(
            ffmpeg,
            [
                "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=5", "-c:v", "libx264", "-g", "25",
                "-keyint_min", "25", "-pix_fmt", "yuv420p", whole,
            ])
        XCTAssertEqual(made.status, 0, made.stderr)
        let cut = folder.appendingPathComponent("cut.mp4").path
        let cutting = try Fixtures.run(ffmpeg, ["-v", "error", "-ss", "2.3", "-i", whole, "-t", "2", "-c", "copy", cut])
        XCTAssertEqual(cutting.status, 0, cutting.stderr)
        return cut
    }

    func testTheLeadInIsSaidAndBoundedByTheOption() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cut = try cutClip(folder)
        let out = folder.appendingPathComponent("out.mp4").path
        let written = try Fixtures.run(try Fixtures.consentgate, ["strip", cut, "-o", out])
        XCTAssertEqual(written.status, 0, written.output)
        XCTAssertTrue(written.text.contains("s of hidden lead-in kept (decoding starts at the key frame"), written.text)
        XCTAssertTrue(written.text.contains("bound 2.00 s"), written.text)
        let json = try Fixtures.run(
            try Fixtures.consentgate, ["strip", cut, "-o", folder.appendingPathComponent("j.mp4").path, "--json"])
        XCTAssertTrue(json.text.contains("hidden lead-in kept"), json.text)
        let refused = try Fixtures.run(
            try Fixtures.consentgate,
            ["strip", cut, "-o", folder.appendingPathComponent("none.mp4").path, "--max-hidden-lead-in", "0"])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.stderr.contains("of hidden lead-in before its first shown frame"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("the bound is 0.00 s"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("none.mp4").path))
        let negative = try Fixtures.run(
            try Fixtures.consentgate, ["strip", cut, "-o", folder.appendingPathComponent("n.mp4").path, "--max-hidden-lead-in=-1"])
        XCTAssertEqual(negative.status, 2, negative.output)
        XCTAssertTrue(negative.stderr.contains("--max-hidden-lead-in must be a number of seconds"), negative.stderr)
        // check says it too, and refuses with the bound at 0 (the reason names the lead-in).
        let checked = try Fixtures.run(
            try Fixtures.consentgate,
            ["check", cut, "--channel", "website", "--authorizations", folder.path, "--trust", Fixtures.sampleMedia.appendingPathComponent("trust.DEMO.yml").path, "--json"])
        XCTAssertTrue(checked.text.contains("hidden lead-in kept"), checked.output)
        let strict = try Fixtures.run(
            try Fixtures.consentgate,
            ["check", cut, "--channel", "website", "--authorizations", folder.path, "--trust", Fixtures.sampleMedia.appendingPathComponent("trust.DEMO.yml").path, "--max-hidden-lead-in", "0"])
        XCTAssertTrue(strict.text.contains("hidden lead-in before its first shown frame"), strict.output)
    }
}
