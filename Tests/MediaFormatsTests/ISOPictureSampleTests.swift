import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Motion-JPEG and PNG-codec movies (issue 22 item 5): each frame through the picture sanitizer inside the
/// rewriter, sample sizes rewritten, the same frames decoded and one presented fingerprint for input and output.
final class ISOPictureSampleTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func run(_ tool: String, _ arguments: [String]) throws {
        let outcome = try Fixtures.run(try Fixtures.requireTool(tool), arguments)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
    }

    func contains(_ file: String, _ text: String) throws -> Bool {
        try Fixtures.bytes(URL(fileURLWithPath: file)).firstRange(of: Array(text.utf8)) != nil
    }

    func frames(_ file: String) throws -> String {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffmpeg"), ["-v", "error", "-i", file, "-map", "0:v:0", "-f", "framemd5", "-"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let lines = outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertGreaterThanOrEqual(lines.count, 3, "too few frames decoded from \(file)")
        return lines.joined(separator: "\n")
    }

    /// Pictures written by ffmpeg and tagged by exiftool, muxed with `-c copy` into a MOV, published.
    func assertFramesArePublishedClean(extension ext: String, tags: [String], needles: [String]) throws {
        for index in 1...4 {
            let picture = path(String(format: "IMG_%04d.", index) + ext)
            try run(
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=1:duration=1:decimals=\(index % 3)",
                    "-frames:v", "1", picture,
                ])
            try run("exiftool", ["-q", "-overwrite_original"] + tags + [picture])
        }
        let movie = path("timelapse.mov")
        try run(
            "ffmpeg", ["-v", "error", "-y", "-framerate", "2", "-i", path("IMG_%04d." + ext), "-c", "copy", movie])
        for needle in needles { XCTAssertTrue(try contains(movie, needle), "exiftool wrote no \(needle)") }
        let output = path("clean.mov")
        let sanitized = try MediaFile(path: movie).sanitize(to: output)
        try XCTUnwrap(sanitized.pending).commit()
        for needle in needles { XCTAssertFalse(try contains(output, needle), "\(needle) is still in a frame") }
        XCTAssertEqual(try frames(movie), try frames(output), "the frames decode differently")
        XCTAssertEqual(
            try MediaFile(path: movie).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256)
        let again = path("again.mov")
        try XCTUnwrap(try MediaFile(path: output).sanitize(to: again).pending).commit()
        XCTAssertEqual(
            try Fixtures.bytes(URL(fileURLWithPath: again)), try Fixtures.bytes(URL(fileURLWithPath: output)))
    }

    func testMotionJPEGFramesLoseTheirEXIFAndDecodeTheSame() throws {
        try assertFramesArePublishedClean(
            extension: "JPG",
            tags: ["-GPSLatitude=48.8582", "-GPSLatitudeRef=N", "-Artist=Jane_Doe_MRN_12345", "-Comment=ward_7"],
            needles: ["Jane_Doe_MRN_12345", "ward_7"])
    }

    func testPNGFramesLoseTheirTextAndDecodeTheSame() throws {
        try assertFramesArePublishedClean(
            extension: "png", tags: ["-PNG:Comment=Jane_Doe_MRN_12345", "-Artist=ward_7"],
            needles: ["Jane_Doe_MRN_12345", "ward_7"])
    }
}
