import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Issue #9 for video and phone formats: work bounded by the file's bytes, one read for both fingerprints, a file
/// changed while it is processed, and two leaks exiftool misses (the compressor name, the Insta360 trailer).
final class ISOBoundsTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func write(_ bytes: [UInt8], _ name: String = UUID().uuidString + ".mp4") throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func ffmpeg(_ arguments: [String]) throws {
        let outcome = try Fixtures.run(try Fixtures.requireTool("ffmpeg"), ["-v", "error", "-y"] + arguments)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
    }

    func framemd5(_ file: String) throws -> String {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffmpeg"), ["-v", "error", "-i", file, "-map", "0:v", "-f", "framemd5", "-"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
    }

    // MARK: - Work bounded by the file

    /// 4.6 MB whose sample table names one 4 MB chunk 100,000 times: 400 GB of hashing if obeyed.
    func testChunksNamedManyTimesAreRefusedQuickly() throws {
        let media = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hostile = SyntheticMovie.movie(
            media: media, tracks: [.init(chunks: [Int](repeating: 0, count: 100_000), sampleSize: 4 << 20)])
        let path = try write(hostile)
        let started = Date()
        let file = try MediaFile(path: path)
        XCTAssertThrowsError(try file.fingerprints()) { error in
            XCTAssertTrue("\(error)".contains("chunk ranges overlap"), "\(error)")
        }
        XCTAssertThrowsError(try file.sanitize(to: path + ".out")) { error in
            XCTAssertTrue("\(error)".contains("chunk ranges overlap"), "\(error)")
        }
        let report = file.inspect()
        XCTAssertNil(report.legacyContentSHA256)
        XCTAssertTrue(report.warnings.contains { $0.contains("chunk ranges overlap") }, "\(report.warnings)")
        let elapsed = Date().timeIntervalSince(started)
        print("hostile MP4 (\(hostile.count) bytes, 100,000 chunks over 4 MB): refused in \(elapsed) s")
        XCTAssertLessThan(elapsed, 10)
    }

    func testChunksSharedBetweenTracksOrOverlappingAreRefused() throws {
        let media = [UInt8](repeating: 7, count: 6000)
        let cases: [[SyntheticMovie.Track]] = [
            // An audio track over the video's bytes.
            [.init(chunks: [0, 3000], sampleSize: 3000), .init(handler: "soun", chunks: [1000], sampleSize: 500)],
            // Two chunks of one track that overlap by a byte.
            [.init(chunks: [0, 2999], sampleSize: 3000)],
            // The same chunk twice.
            [.init(chunks: [0, 0], sampleSize: 10)],
        ]
        for tracks in cases {
            XCTAssertThrowsError(
                try MediaFile(path: try write(SyntheticMovie.movie(media: media, tracks: tracks))).fingerprints()
            ) {
                error in
                XCTAssertTrue("\(error)".contains("chunk ranges overlap"), "\(error)")
            }
        }
        // Side by side is fine, in either track order.
        let apart: [SyntheticMovie.Track] = [
            .init(chunks: [0, 3000], sampleSize: 1000), .init(handler: "soun", chunks: [1000, 4000], sampleSize: 2000),
        ]
        let clean = try MediaFile(path: try write(SyntheticMovie.movie(media: media, tracks: apart))).sanitize(
            to: folder.appendingPathComponent("apart.mp4").path)
        clean.pending?.discard()
    }

    // MARK: - One read for both fingerprints

    /// The one-pass fingerprints have the values the two-pass definition gives, and the values recorded for the demo.
    func testOnePassFingerprintsKeepTheirDefinition() throws {
        let recorded = [
            "demo-clip.mp4": (
                "589624b612a59c21ba7a06f9811b80e1ea02ac92568d3d051a558a28e339a983",
                "59fca206eb4e2988538c3c164a82c13ba001e1dc7057207d51c7d4a6c4705b47",
                "d5a5c0b8f36c27b24b7518d64d489bf8d453579685a9809198f6c1f2fe0e75e0"
            ),
            "demo-phone-photo.heic": (
                "1dc8e3b32e8c73cc3bc15b593385ccc8540fd10e730aca61430b431b8b6b388a",
                "f33a27602b3ba7c7500a05275035ae6c1d4b8889126a68ca66e8d91c98983cfa",
                "78c8a01d70f555cc5891a6d1fc1eb41ab8bd5edb3e1169172f9d877b908576ac"
            ),
        ]
        for (name, expected) in recorded {
            let path = Fixtures.sampleMedia.appendingPathComponent(name).path
            let fingerprints = try MediaFile(path: path).fingerprints()
            XCTAssertEqual(fingerprints.fileSHA256, expected.0, name)
            // Definition 1 (what old records name) is still computed the same way, to tell which to re-record.
            XCTAssertEqual(fingerprints.legacyContentSHA256, expected.1, name)
            XCTAssertEqual(fingerprints.presentedSHA256, expected.2, name)
            // Without the file's own hash (strip without --json, a review record) the pass reads only the streams
            // and hashes each once: the same presented fingerprint, no definition 1 (which nothing there reports).
            let light = try MediaFile(path: path).fingerprints(hashingFile: false)
            XCTAssertEqual(light.fileSHA256, "", name)
            XCTAssertNil(light.legacyContentSHA256, name)
            XCTAssertEqual(light.presentedSHA256, expected.2, name)
            let source = try FileSource(path: path)
            XCTAssertEqual(try ISOMedia(source: source).contentSHA256(), expected.1, name)
            XCTAssertEqual(try ISOMedia(source: source).presentedSHA256(), expected.2, name)
            let report = try Inspector.inspect(path: path)
            XCTAssertEqual(report.fileSHA256, expected.0)
            XCTAssertEqual(report.legacyContentSHA256, expected.1)
            XCTAssertEqual(report.presentedSHA256, expected.2)
        }
        // Chunks stored against decoding order (the second pass) and interleaved tracks give the same values too.
        let media = (0..<9000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let layouts: [[SyntheticMovie.Track]] = [
            [.init(chunks: [6000, 3000, 0], sampleSize: 3000)],
            [
                .init(chunks: [0, 4000, 8000], sampleSize: 1000),
                .init(handler: "soun", chunks: [1000, 5000], sampleSize: 3000),
            ],
        ]
        for tracks in layouts {
            let path = try write(SyntheticMovie.movie(media: media, tracks: tracks))
            let bytes = try Fixtures.bytes(URL(fileURLWithPath: path))
            let media = try ISOMedia(source: try FileSource(path: path))
            let onePass = try media.fingerprints()
            XCTAssertEqual(onePass.file, sha256Hex(bytes))
            XCTAssertEqual(onePass.content, try media.contentSHA256())
            XCTAssertEqual(onePass.presented, try media.presentedSHA256())
            let light = try media.fingerprints(hashingFile: false)
            XCTAssertEqual(light.file, "")
            XCTAssertEqual(light.content, "")
            XCTAssertEqual(light.presented, onePass.presented)
        }
    }

    /// A writer that changes the file after it was opened is noticed, for pictures and for video.
    func testChangesThroughAnotherDescriptorAreNoticed() throws {
        for name in ["demo-camera-photo.jpg", "demo-clip.mp4"] {
            let path = try write(try Fixtures.sample(name), name)
            let file = try MediaFile(path: path)
            _ = try file.fingerprints()
            XCTAssertNil(file.changedSinceOpened(), name)
            // Same size, different bytes (after a pause, so the clock has moved on).
            Thread.sleep(forTimeInterval: 0.02)
            let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
            try handle.seek(toOffset: 100)
            try handle.write(contentsOf: Data([0x42]))
            let sameSize = try XCTUnwrap(file.changedSinceOpened(), name)
            XCTAssertTrue(sameSize.contains("changed while it was being processed"), sameSize)
            // Appended to.
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(repeating: 0, count: 10))
            try handle.close()
            let grown = try XCTUnwrap(file.changedSinceOpened(), name)
            XCTAssertTrue(grown.contains("size"), grown)
        }
    }

    // MARK: - Compressor name and Insta360 trailer

    static let insta360Marker = Array("8db42d694ccc418790edff439fe026bf".utf8)

    /// A fake Insta360 trailer: records (a serial number, a GPS fix) and the 78-byte end that exiftool reads: the
    /// trailer's length 38 bytes in, a version, the marker.
    static func insta360Trailer(serial: String) -> [UInt8] {
        let records = Array("SN:\(serial);GPS:+51.5007-000.1246;".utf8) + [UInt8](repeating: 0xA5, count: 40)
        let length = records.count + 78
        let lengthBytes = (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        return records + [UInt8](repeating: 0, count: 38) + lengthBytes + [3, 0, 0, 0] + insta360Marker
    }

    /// Writes `name` (as a Pascal string) into the compressor name of every visual sample entry of the file.
    static func plantCompressorName(_ name: String, in bytes: inout [UInt8], path: String) throws -> Int {
        let media = try ISOMedia(source: try FileSource(path: path))
        var planted = 0
        for track in media.tracks where track.handler == "vide" {
            for field in track.compressorNames {
                let text = Array(name.utf8)
                bytes.replaceSubrange(
                    field, with: [UInt8(text.count)] + text + [UInt8](repeating: 0, count: 31 - text.count))
                planted += 1
            }
        }
        return planted
    }

    func testCompressorNameIsBlankedAndTheInsta360TrailerGoes() throws {
        let made = folder.appendingPathComponent("made.mp4").path
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=5", "-c:v", "libx264", "-pix_fmt", "yuv420p", made,
        ])
        var bytes = try Fixtures.bytes(URL(fileURLWithPath: made))
        XCTAssertEqual(try Self.plantCompressorName("GoPro AVC encoder", in: &bytes, path: made), 1)
        let serial = "IXSE42FAKE0042"
        bytes += Self.insta360Trailer(serial: serial)
        let input = try write(bytes, "VID_20260504_103107_00_001.mp4")
        let report = try Inspector.inspect(path: input)
        XCTAssertNil(report.error)
        XCTAssertTrue(report.metadata.contains { $0.value == "GoPro AVC encoder" }, "\(report.metadata)")
        XCTAssertTrue(report.metadata.contains { $0.name.contains("Insta360") }, "\(report.metadata)")

        let outputFolder = folder.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: outputFolder, withIntermediateDirectories: true)
        let output = outputFolder.appendingPathComponent("VID_20260504_103107_00_001.mp4").path
        let clean = try MediaFile(path: input).sanitize(to: output)
        try XCTUnwrap(clean.pending).commit()
        XCTAssertTrue(clean.removed.contains { $0.contains("Insta360") }, "\(clean.removed)")
        let result = try Fixtures.bytes(URL(fileURLWithPath: output))
        XCTAssertLessThan(result.count, bytes.count, "rewritten without the trailer")
        let text = String(decoding: result, as: UTF8.self)
        for needle in ["GoPro", serial, "+51.5007", "8db42d694ccc"] {
            XCTAssertNil(text.range(of: needle), "\(needle) survived")
        }
        XCTAssertEqual(try Inspector.inspect(path: output).metadata, [])
        XCTAssertEqual(try framemd5(input), try framemd5(output))
        XCTAssertEqual(
            try MediaFile(path: input).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256)

        // The outside judges: exiftool-based leakcheck and the needle search (CompressorName is one of its tags).
        _ = try Fixtures.requireTool("exiftool")
        let tools = Fixtures.shared.appendingPathComponent("tools")
        guard FileManager.default.fileExists(atPath: tools.appendingPathComponent("needles").path) else {
            throw XCTSkip("../shared/tools is not beside this checkout")
        }
        let leaks = try Fixtures.run(
            "/usr/bin/env", ["python3", tools.appendingPathComponent("leakcheck").path, "--needle", serial, output])
        XCTAssertEqual(leaks.status, 0, leaks.text + leaks.stderr)
        let needles = try Fixtures.run(
            "/usr/bin/env", ["python3", tools.appendingPathComponent("needles").path, folder.path, outputFolder.path])
        XCTAssertEqual(needles.status, 0, needles.text + needles.stderr)
    }

    /// The verifier, not only the sanitizer, insists on a blank compressor name.
    func testVerificationRefusesACompressorName() throws {
        let media = [UInt8](repeating: 1, count: 2000)
        let named = SyntheticMovie.movie(
            media: media, tracks: [.init(chunks: [0], sampleSize: 2000, compressorName: "DJI AVC")])
        let path = try write(named)
        let content = try XCTUnwrap(try MediaFile(path: path).fingerprints().presentedSHA256)
        XCTAssertThrowsError(try ISOSanitizer.verify(path: path, size: named.count, expectedContent: content)) {
            error in
            XCTAssertTrue("\(error)".contains("compressor name") || "\(error)".contains("unused bytes"), "\(error)")
        }
    }

    /// A file that is only cut off has no marker and stays refused; a marker whose length does not end the boxes
    /// is no trailer either.
    func testTruncatedFilesAreNotTakenForTrailers() throws {
        let media = [UInt8](repeating: 3, count: 5000)
        let movie = SyntheticMovie.movie(media: media, tracks: [.init(chunks: [0], sampleSize: 5000)])
        // Cut inside the moov (the last box): truncated.
        XCTAssertThrowsError(try MediaFile(path: try write(Array(movie.dropLast(20)))).fingerprints()) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
        // Cut inside the moov, then a marker whose length points inside the moov.
        var wrongLength = Self.insta360Trailer(serial: "X")
        wrongLength.replaceSubrange((wrongLength.count - 40)..<(wrongLength.count - 36), with: [200, 0, 0, 0])
        XCTAssertThrowsError(try MediaFile(path: try write(Array(movie.dropLast(20)) + wrongLength)).fingerprints())
        // Whole boxes and a trailer: published.
        let withTrailer = try write(movie + Self.insta360Trailer(serial: "IXS-SYNTH-1"))
        let clean = try MediaFile(path: withTrailer).sanitize(to: withTrailer + ".out")
        try XCTUnwrap(clean.pending).commit()
        let result = try Fixtures.bytes(URL(fileURLWithPath: withTrailer + ".out"))
        XCTAssertNil(String(decoding: result, as: UTF8.self).range(of: "IXS-SYNTH"))
        XCTAssertNil(try ISOStructure(source: try FileSource(path: withTrailer + ".out")).trailer)
    }
}
