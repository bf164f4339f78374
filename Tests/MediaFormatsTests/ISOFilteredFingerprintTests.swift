import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// `presented_sha256` of a movie whose video samples the rewriter filters (issue 22: SEI user data, AV1 metadata):
/// defined over the samples as published, so the input, its published copy and the same clip without the planted
/// SEI all have one value, while definition 1 (`legacy_content_sha256`) stays over the raw bytes.
final class ISOFilteredFingerprintTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    let needle = "Jane_Doe_MRN_12345"

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func ffmpeg(_ arguments: [String]) throws {
        let outcome = try Fixtures.run(try Fixtures.requireTool("ffmpeg"), ["-v", "error", "-y"] + arguments)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
    }

    func contains(_ file: String, _ text: String) throws -> Bool {
        try Fixtures.bytes(URL(fileURLWithPath: file)).firstRange(of: Array(text.utf8)) != nil
    }

    func decoded(_ file: String) throws -> String {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffmpeg"), ["-v", "error", "-i", file, "-map", "0:v:0", "-f", "framemd5", "-"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let lines = outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertFalse(lines.isEmpty, "nothing decoded from \(file)")
        return lines.joined(separator: "\n")
    }

    func prints(_ file: String) throws -> Fingerprints { try MediaFile(path: file).fingerprints() }

    /// Publishes `planted`, then checks: published (not refused), no `absent` text left, the same frames, and one
    /// presented fingerprint for the input, the output, the clip without the planted SEI (`clean`), and the
    /// fingerprint read back by the verifier's stream-by-stream reading.
    func assertPublishedWithTheSameFingerprint(
        planted: String, clean: String, absent: [String], inSamples: Bool = true
    ) throws {
        let output = path("out-" + URL(fileURLWithPath: planted).lastPathComponent)
        let sanitized = try MediaFile(path: planted).sanitize(to: output)
        try XCTUnwrap(sanitized.pending).commit()
        if inSamples {
            XCTAssertTrue(sanitized.removed.contains { $0.contains("metadata in its samples") }, "\(sanitized.removed)")
        }
        for text in absent { XCTAssertFalse(try contains(output, text), "\(text) is still in the published movie") }
        XCTAssertFalse(try contains(output, "free"), "a free box is left in the published movie")
        XCTAssertEqual(try decoded(planted), try decoded(output), "the published movie decodes differently")
        let input = try prints(planted)
        XCTAssertEqual(input.presentedSHA256, try prints(output).presentedSHA256)
        XCTAssertEqual(input.presentedSHA256, try prints(clean).presentedSHA256, "the planted SEI changed the value")
        XCTAssertEqual(
            input.presentedSHA256, try ISOMedia(source: try FileSource(path: planted)).presentedSHA256(),
            "the single pass and the stream-by-stream reading disagree")
        // The verifier's reading requires samples already as published: the output passes, an input whose samples
        // hold the SEI does not (its fingerprint alone, over filtered samples, could not tell them apart).
        XCTAssertNoThrow(try ISOMedia(source: try FileSource(path: output)).presentedSHA256(requireClean: true))
        if inSamples {
            XCTAssertThrowsError(
                try ISOMedia(source: try FileSource(path: planted)).presentedSHA256(requireClean: true))
        }
        // Definition 1 is over the raw coded bytes: an SEI planted in the samples is in it.
        if inSamples { XCTAssertNotEqual(input.legacyContentSHA256, try prints(clean).legacyContentSHA256) }
        // The published copy is itself a clean input: publishing it again writes the same bytes.
        let again = path("again-" + URL(fileURLWithPath: planted).lastPathComponent)
        try XCTUnwrap(try MediaFile(path: output).sanitize(to: again).pending).commit()
        XCTAssertEqual(
            try Fixtures.bytes(URL(fileURLWithPath: again)), try Fixtures.bytes(URL(fileURLWithPath: output)))
    }

    func testH264UserDataSEIIsRemovedAndThePresentedFingerprintIsOverTheFilteredSamples() throws {
        let encoded = path("encoded.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=2", "-f", "lavfi", "-i",
            "sine=frequency=440:duration=2", "-c:v", "libx264", "-bf", "2", "-g", "8", "-c:a", "aac", encoded,
        ])
        // The same clip remuxed alike, without and with the planted SEI.
        let clean = path("clean.mp4")
        try ffmpeg(["-i", encoded, "-map", "0", "-c", "copy", clean])
        let planted = path("planted.mp4")
        try ffmpeg([
            "-i", encoded, "-map", "0", "-c", "copy", "-bsf:v",
            "h264_metadata=sei_user_data=086f3693-b7b3-4f2c-9653-21492feee5b8+\(needle)", planted,
        ])
        XCTAssertTrue(try contains(planted, needle), "ffmpeg planted no SEI: the test proves nothing")
        XCTAssertTrue(try contains(planted, "x264 - core"), "x264 wrote no options SEI")
        try assertPublishedWithTheSameFingerprint(planted: planted, clean: clean, absent: [needle, "x264 - core"])
    }

    /// A trimmed clip (its edit list hides a lead-in): the needed samples are hashed as published there too.
    func testATrimmedH264ClipWithSEIKeepsItsFingerprint() throws {
        let source = path("source.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=4", "-c:v", "libx264", "-g", "10", source,
        ])
        let cut = path("cut.mp4")
        try ffmpeg(["-ss", "1.3", "-i", source, "-t", "2", "-c", "copy", cut])
        let clean = path("cut-remuxed.mp4")
        try ffmpeg(["-i", cut, "-c", "copy", clean])
        let planted = path("cut-planted.mp4")
        try ffmpeg([
            "-i", cut, "-c", "copy", "-bsf:v",
            "h264_metadata=sei_user_data=086f3693-b7b3-4f2c-9653-21492feee5b8+\(needle)", planted,
        ])
        XCTAssertTrue(try contains(planted, needle), "ffmpeg planted no SEI: the test proves nothing")
        try assertPublishedWithTheSameFingerprint(planted: planted, clean: clean, absent: [needle, "x264 - core"])
    }

    /// HEVC: x265 writes its build and options as an SEI into `hvcC` (ffmpeg's MP4 muxer moves it there from the
    /// first sample); the same encode with `info=0` has none. The published `hvcC` is shorter, and no `free` box
    /// is left in its sample entry.
    func testHEVCEncoderSEIIsRemovedAndThePresentedFingerprintIsOverTheFilteredSamples() throws {
        let common = [
            "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=2", "-c:v", "libx265", "-tag:v", "hvc1",
        ]
        let clean = path("clean-hevc.mp4")
        try ffmpeg(common + ["-x265-params", "log-level=error:info=0:pools=1:frame-threads=1", clean])
        let planted = path("x265.mp4")
        try ffmpeg(common + ["-x265-params", "log-level=error:pools=1:frame-threads=1", planted])
        XCTAssertTrue(try contains(planted, "x265 (build"), "x265 wrote no SEI: the test proves nothing")
        XCTAssertFalse(try contains(clean, "x265 (build"))
        try assertPublishedWithTheSameFingerprint(
            planted: planted, clean: clean, absent: ["x265 (build"], inSamples: false)
    }
}
