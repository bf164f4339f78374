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
    /// `fourCC`: the sample entry's format written over the one ffmpeg wrote (`jpeg`/`png `).
    func assertFramesArePublishedClean(extension ext: String, tags: [String], needles: [String], fourCC: String? = nil)
        throws
    {
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
        if let fourCC { try retag(movie, fourCC) }
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

    /// The movie with its (only) sample entry's format replaced by `fourCC`.
    func retag(_ movie: String, _ fourCC: String) throws {
        var bytes = try Fixtures.bytes(URL(fileURLWithPath: movie))
        let stsd = try XCTUnwrap(bytes.firstRange(of: Array("stsd".utf8))).lowerBound
        XCTAssertEqual(Bytes.be(bytes, stsd + 8, 4), 1, "one sample entry")
        bytes.replaceSubrange((stsd + 16)..<(stsd + 20), with: Array(fourCC.utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: movie))
    }

    func testMotionJPEGAAndMJPGFramesLoseTheirEXIFAndDecodeTheSame() throws {
        for fourCC in ["mjpa", "MJPG"] {
            try assertFramesArePublishedClean(
                extension: "JPG", tags: ["-GPSLatitude=48.8582", "-GPSLatitudeRef=N", "-Artist=Jane_Doe_MRN_12345"],
                needles: ["Jane_Doe_MRN_12345"], fourCC: fourCC)
        }
    }

    func testMotionJPEGBAndAvidFramesAreRefused() throws {
        let picture = path("IMG_0001.JPG")
        try run(
            "ffmpeg",
            ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=1", "-frames:v", "1", picture])
        for fourCC in ["mjpb", "AVDJ"] {
            let movie = path("\(fourCC).mov")
            try run(
                "ffmpeg",
                ["-v", "error", "-y", "-framerate", "2", "-loop", "1", "-t", "2", "-i", picture, "-c", "copy", movie])
            try retag(movie, fourCC)
            XCTAssertThrowsError(try MediaFile(path: movie).sanitize(to: path("out-\(fourCC).mov"))) { error in
                XCTAssertTrue("\(error)".contains("export the clip as Motion-JPEG A"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("out-\(fourCC).mov")))
        }
    }

    /// An `mjpa` frame's APP1 "mjpg" segment (field offsets) goes; a sample holding two JPEGs (an interlaced frame's
    /// two fields) is refused rather than published with one field.
    func testMotionJPEGAFieldHeaderAndSecondField() throws {
        let picture = path("field.jpg")
        try run(
            "ffmpeg",
            ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=1", "-frames:v", "1", picture])
        let jpeg = try Fixtures.bytes(URL(fileURLWithPath: picture))
        let header = Array("mjpg".utf8) + Array("Jane Doe MRN 12345".utf8) + [UInt8](repeating: 0, count: 22)
        let frame = [0xFF, 0xD8, 0xFF, 0xE1] + Bytes.put(header.count + 2, 2) + header + jpeg.dropFirst(2)
        let published = try ISOSampleFilter.publishedPicture(frame, format: "mjpa")
        XCTAssertNil(published.firstRange(of: Array("Jane Doe".utf8)))
        XCTAssertNil(published.firstRange(of: Array("mjpg".utf8)))
        XCTAssertEqual(
            try Fingerprints.compute(published).presentedSHA256, try Fingerprints.compute(jpeg).presentedSHA256)
        XCTAssertThrowsError(try ISOSampleFilter.publishedPicture(jpeg + jpeg, format: "mjpa")) { error in
            XCTAssertTrue("\(error)".contains("second field"), "\(error)")
        }
        XCTAssertThrowsError(try ISOSampleFilter.publishedPicture(jpeg + jpeg, format: "jpeg"))
    }

    func testPNGFramesLoseTheirTextAndDecodeTheSame() throws {
        try assertFramesArePublishedClean(
            extension: "png", tags: ["-PNG:Comment=Jane_Doe_MRN_12345", "-Artist=ward_7"],
            needles: ["Jane_Doe_MRN_12345", "ward_7"])
    }
}
