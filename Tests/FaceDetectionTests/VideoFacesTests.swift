import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

@testable import FaceDetection

/// Faces in videos (frames decoded by libavcodec from samples our ISO-BMFF reader hands over), WebP and GIF, in
/// process (the pipeline tests run the same code in sandboxed workers). The videos and pictures are made by ffmpeg
/// from SampleMedia's public-domain face pictures.
final class VideoFacesTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func video(_ name: String) throws -> FaceReading {
        let source = try FileSource(path: folder.appendingPathComponent(name).path)
        return try VideoFaces.detect(source, options: FaceOptions(), limits: MediaLimits())
    }

    func testASecondAndThirdFaceThatAppearAfterThreeSecondsAreCounted() throws {
        // One key frame for the whole clip: the group is only in frames predicted from it.
        for codec in ["h264", "hevc", "mpeg4"] {
            let name = "\(codec)\(codec == "mpeg4" ? ".3gp" : ".mp4")"
            try FaceVideos.make(
                ["faces-one-person.jpg", "faces-group-of-three.jpg"], codec: codec,
                output: folder.appendingPathComponent(name))
            let reading = try video(name)
            XCTAssertEqual(reading.count, 3, "\(codec): \(reading)")
            XCTAssertEqual(reading.frames, 6, "\(codec): one frame a second of 6 s")
            XCTAssertGreaterThanOrEqual(reading.frameSeconds ?? 0, 3, "\(codec): the group is shown from 3 s")
            XCTAssertEqual(reading.width, 768)
            XCTAssertEqual(reading.height, 320)
            for box in reading.faces {
                XCTAssertTrue(box.left >= 0 && box.top >= 0 && box.left + box.width <= 768 && box.top + box.height <= 320)
            }
        }
    }

    func testALongVideoHasTheKeyFramesAtTheChosenTimesLookedAt() throws {
        // A key frame every second: with fewer samples allowed than it has, each chosen time's key frame is
        // decoded alone, and the group from 3 s is seen.
        let url = folder.appendingPathComponent("keys.mp4")
        try FaceVideos.make(["faces-one-person.jpg", "faces-group-of-three.jpg"], output: url, keyInterval: 10)
        let reading = try VideoFaces.detect(
            try FileSource(path: url.path), options: FaceOptions(), limits: MediaLimits(), maxDecoded: 10)
        XCTAssertEqual(reading.count, 3, "\(reading)")
        XCTAssertEqual(reading.frames, 6)
    }

    func testAVideoWithoutPeopleCountsNone() throws {
        try FaceVideos.make(["faces-no-people.jpg"], output: folder.appendingPathComponent("empty.mp4"))
        let reading = try video("empty.mp4")
        XCTAssertEqual(reading.count, 0, "\(reading)")
        XCTAssertEqual(reading.frames, 3)
    }

    func testAPortraitVideoIsTurnedAsItsTrackMatrixSays() throws {
        // Stored on its side (turned 90° counter-clockwise), with the matrix (0, 1, -1, 0) that phones write and
        // players turn clockwise to show it: upright, three faces. ffmpeg, the oracle, shows it upright too.
        try FaceVideos.make(
            ["faces-group-of-three.jpg"], seconds: 1, output: folder.appendingPathComponent("side.mp4"),
            filter: ",transpose=2")
        XCTAssertEqual(try video("side.mp4").count, 0, "on its side, without the matrix")
        let turned = folder.appendingPathComponent("turned.mp4")
        try FaceVideos.make(
            ["faces-group-of-three.jpg"], seconds: 1, output: turned, filter: ",transpose=2", rotate: 270)
        let samples = try XCTUnwrap(try VideoSamples.read(try FileSource(path: turned.path)))
        XCTAssertEqual(samples.quarterTurns, 1)
        let reading = try video("turned.mp4")
        XCTAssertEqual(reading.count, 3, "\(reading)")
        XCTAssertEqual(reading.width, 768, "the upright size")
        XCTAssertEqual(reading.height, 320, "the upright size")
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let shown = folder.appendingPathComponent("shown.png").path
        XCTAssertEqual(try Fixtures.run(ffmpeg, ["-v", "error", "-y", "-i", turned.path, "-frames:v", "1", shown]).status, 0)
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: shown)))
        XCTAssertEqual(try FaceDetector.detect(png, format: .png, options: FaceOptions(), limits: MediaLimits()).count, 3)
    }

    func testADamagedFrameFailsTheCountRatherThanCountingFewer() throws {
        let name = "h264.mp4"
        try FaceVideos.make(
            ["faces-one-person.jpg", "faces-group-of-three.jpg"], output: folder.appendingPathComponent(name))
        let url = folder.appendingPathComponent(name)
        let samples = try XCTUnwrap(try VideoSamples.read(try FileSource(path: url.path)))
        // Garbage over the middle of the key frame's slice data (its length prefix and header kept).
        var bytes = Array(try Data(contentsOf: url))
        let key = samples.samples[0].range
        for at in (key.lowerBound + key.count / 3)..<(key.lowerBound + key.count * 2 / 3) { bytes[at] = UInt8(at % 251) }
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try video(name))
    }

    func testGroupPicturesInWebPGIFAndHEICAreCounted() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let source = Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path
        for (name, options) in [("group.webp", ["-c:v", "libwebp", "-quality", "90"]), ("group.gif", [])] {
            let path = folder.appendingPathComponent(name).path
            XCTAssertEqual(try Fixtures.run(ffmpeg, ["-v", "error", "-y", "-i", source] + options + [path]).status, 0)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let format = MediaFormat.sniff(Array(bytes.prefix(32)))
            XCTAssertTrue(FaceDetector.supports(format), name)
            let reading = try PictureFaces.detect(bytes, format: format, options: FaceOptions(), limits: MediaLimits())
            XCTAssertEqual(reading.count, 3, "\(name): \(reading)")
            XCTAssertEqual(reading.width, 768, name)
        }
        // HEIC (heif-enc: libheif with x265): three faces, in the picture's own size.
        let heifEnc = try Fixtures.requireTool("heif-enc")
        let png = folder.appendingPathComponent("group.png").path
        XCTAssertEqual(try Fixtures.run(ffmpeg, ["-v", "error", "-y", "-i", source, png]).status, 0)
        let heic = folder.appendingPathComponent("group.heic").path
        let encoded = try Fixtures.run(heifEnc, ["-q", "90", png, "-o", heic])
        XCTAssertEqual(encoded.status, 0, encoded.output)
        let heicBytes = Array(try Data(contentsOf: URL(fileURLWithPath: heic)))
        let heicFormat = MediaFormat.sniff(Array(heicBytes.prefix(32)))
        XCTAssertEqual(heicFormat, .heic)
        let reading = try PictureFaces.detect(heicBytes, format: heicFormat, options: FaceOptions(), limits: MediaLimits())
        XCTAssertEqual(reading.count, 3, "HEIC: \(reading)")
        XCTAssertEqual(reading.width, 768)
        // An animated GIF whose first frame shows nobody and whose second shows three: not counted (an error, so the
        // file waits for a review), never the first frame's 0.
        let nobody = Fixtures.sampleMedia.appendingPathComponent("faces-no-people.jpg").path
        let animated = folder.appendingPathComponent("animated.gif").path
        let made = try Fixtures.run(
            ffmpeg,
            ["-v", "error", "-y", "-loop", "1", "-t", "1", "-i", nobody, "-loop", "1", "-t", "1", "-i", source,
             "-filter_complex", "[0:v]scale=768:256,setsar=1[a];[1:v]scale=768:256,setsar=1[b];[a][b]concat=n=2:v=1",
             "-r", "1", animated])
        XCTAssertEqual(made.status, 0, made.output)
        let frames = Array(try Data(contentsOf: URL(fileURLWithPath: animated)))
        XCTAssertGreaterThan(try GIFStructure(parsing: frames).blocks.filter { $0.kind == .image }.count, 1)
        XCTAssertThrowsError(
            try PictureFaces.detect(frames, format: .gif, options: FaceOptions(), limits: MediaLimits()), "counted")
        // Not a WebP: an error, never a count.
        XCTAssertThrowsError(
            try PictureFaces.detect(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 garbage".utf8), format: .webp, options: FaceOptions(), limits: MediaLimits()))
    }
}
