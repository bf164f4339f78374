import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Coded pictures larger than what is shown: refused beyond the coding alignment, published within it.
final class HiddenPixelsTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// The SPS NAL units of the avcC or hvcC in `file`.
    func parameterSets(_ file: URL, _ type: String) throws -> [[UInt8]] {
        let d = try XCTUnwrap(DecodeOracle.payload(of: type, in: try Fixtures.bytes(file)))
        var units: [[UInt8]] = []
        if type == "avcC" {
            var at = 6
            for _ in 0..<Int(d[5] & 0x1F) {
                let length = Bytes.be(d, at, 2)
                units.append(Array(d[(at + 2)..<(at + 2 + length)]))
                at += 2 + length
            }
            return units
        }
        var at = 23
        for _ in 0..<Int(d[22]) {
            let kind = d[at] & 0x3F
            let count = Bytes.be(d, at + 1, 2)
            at += 3
            for _ in 0..<count {
                let length = Bytes.be(d, at, 2)
                if kind == 33 { units.append(Array(d[(at + 2)..<(at + 2 + length)])) }
                at += 2 + length
            }
        }
        return units
    }

    func testTheSPSParserReadsSizeAndCropping() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        for (codec, type) in [("libx264", "avcC"), ("libx265", "hvcC")] {
            for (size, coded, shown) in [("64x48", (64, 48), (64, 48)), ("70x50", (80, 64), (70, 50))] {
                let file = folder.appendingPathComponent("\(codec)-\(size).mp4")
                let run = try Fixtures.run(
                    ffmpeg,
                    ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=0.2:s=\(size):r=10", "-c:v", codec]
                        + (codec == "libx265" ? ["-x265-params", "log-level=error"] : []) + [file.path])
                XCTAssertEqual(run.status, 0, run.stderr)
                let unit = try XCTUnwrap(try parameterSets(file, type).first)
                let sps = type == "avcC" ? try VideoSPS(avc: unit) : try VideoSPS(hevc: unit)
                if type == "avcC" {
                    XCTAssertEqual(sps.codedWidth, coded.0, size)
                    XCTAssertEqual(sps.codedHeight, coded.1, size)
                }
                XCTAssertEqual(sps.codedWidth - sps.crop.left - sps.crop.right, shown.0, "\(codec) \(size)")
                XCTAssertEqual(sps.codedHeight - sps.crop.top - sps.crop.bottom, shown.1, "\(codec) \(size)")
                XCTAssertNil(sps.hiddenPixelsReason(codec: codec), "\(codec) \(size): alignment padding only")
                // Every prefix of the unit is refused or read, never a crash.
                for cut in 0..<unit.count {
                    _ =
                        try?
                        (type == "avcC"
                        ? VideoSPS(avc: Array(unit.prefix(cut))) : VideoSPS(hevc: Array(unit.prefix(cut))))
                }
            }
        }
    }

    /// `h264_metadata`/`hevc_metadata` crop 32 columns and 16 rows off a 64x48 clip: the hidden part is refused with
    /// the reason; the uncropped clip and one padded to its macroblocks are published.
    func testAVideoCroppedBeyondItsAlignmentIsRefused() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        for (codec, filter) in [("libx264", "h264_metadata"), ("libx265", "hevc_metadata")] {
            let plain = try DecodeOracle.generate(
                ffmpeg, in: folder, "\(codec).mp4",
                ["-map", "0:v", "-c:v", codec] + (codec == "libx265" ? ["-x265-params", "log-level=error"] : []))
            let cropped = folder.appendingPathComponent("cropped-\(codec).mp4")
            let run = try Fixtures.run(
                ffmpeg,
                [
                    "-v", "error", "-y", "-i", plain.path, "-c", "copy", "-bsf:v",
                    "\(filter)=crop_bottom=16:crop_right=32",
                    cropped.path,
                ])
            XCTAssertEqual(run.status, 0, run.stderr)
            let refused = try DecodeOracle.strip(cropped, folder.appendingPathComponent("out-cropped-\(codec).mp4"))
            XCTAssertNotEqual(refused.status, 0, "\(codec): the cropped clip was published")
            XCTAssertTrue(refused.output.contains("shows only 32x32"), refused.output)
            let output = folder.appendingPathComponent("out-\(codec).mp4")
            XCTAssertEqual(try DecodeOracle.strip(plain, output).status, 0, codec)
        }
    }

    func testAHEIFCropOrAGridWithSpareTilesIsRefused() throws {
        typealias I = SyntheticISO
        let ispe = I.full("ispe", I.be(640, 4) + I.be(480, 4))
        func clap(_ width: Int, _ height: Int) -> [UInt8] {
            I.box("clap", [width, 1, height, 1, 0, 1, 0, 1].flatMap { I.be($0, 4) })
        }
        func sanitize(_ bytes: [UInt8], _ name: String) throws {
            let input = folder.appendingPathComponent(name)
            try Data(bytes).write(to: input)
            let result = try MediaFile(path: input.path).sanitize(to: folder.appendingPathComponent("out-" + name).path)
            try result.pending?.commit()
        }
        let data = [UInt8](repeating: 0x22, count: 64)
        XCTAssertThrowsError(
            try sanitize(
                SyntheticHEIF.file(data: data, items: [(1, "j2k1", [(0, 64)])], properties: [ispe, clap(320, 240)]),
                "crop.heif")
        ) { XCTAssertTrue("\($0)".contains("clean aperture"), "\($0)") }
        XCTAssertNoThrow(
            try sanitize(
                SyntheticHEIF.file(data: data, items: [(1, "j2k1", [(0, 64)])], properties: [ispe, clap(639, 479)]),
                "odd.heif"))
        // A 2x2 grid of 64x64 tiles: 100x100 shown is padding; 60x60 leaves a whole column and row unseen.
        func grid(_ output: Int) -> [UInt8] {
            let tile = I.full("ispe", I.be(64, 4) + I.be(64, 4))
            let shown = I.full("ispe", I.be(output, 4) + I.be(output, 4))
            return HEIFRoleTests.graph(
                items: [(1, "grid", [0, 0, 1, 1] + I.be(output, 2) + I.be(output, 2))]
                    + (2...5).map { ($0, "j2k1", [UInt8](repeating: UInt8($0), count: 16)) },
                properties: [shown, tile], associations: [(1, [1])] + (2...5).map { ($0, [2]) },
                references: [("dimg", 1, [2, 3, 4, 5])])
        }
        XCTAssertNoThrow(try sanitize(grid(100), "grid.heif"))
        XCTAssertThrowsError(try sanitize(grid(60), "spare.heif")) {
            XCTAssertTrue("\($0)".contains("whole tiles"), "\($0)")
        }
    }

    /// An in-band SPS (avc3/hev1 samples) cropping beyond the alignment makes the sample filter refuse.
    func testAnInBandSPSCroppingTooMuchIsRefusedByTheSampleFilter() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        for (codec, filter, format, demuxer) in [
            ("libx264", "h264_metadata", "avc3", "h264"), ("libx265", "hevc_metadata", "hev1", "hevc"),
        ] {
            for crop in ["crop_bottom=8", "crop_bottom=16:crop_right=32"] {
                let raw = try DecodeOracle.generate(
                    ffmpeg, in: folder, "\(codec)-\(crop.count).\(demuxer)",
                    ["-map", "0:v", "-c:v", codec] + (codec == "libx265" ? ["-x265-params", "log-level=error"] : [])
                        + ["-bsf:v", "\(filter)=\(crop)", "-f", demuxer])
                var units: [[UInt8]] = []
                let bytes = try Fixtures.bytes(raw)
                var starts: [Int] = []
                for at in 0..<(bytes.count - 3) where bytes[at] == 0 && bytes[at + 1] == 0 && bytes[at + 2] == 1 {
                    starts.append(at + 3)
                }
                for (index, start) in starts.enumerated() {
                    var end = index + 1 < starts.count ? starts[index + 1] - 3 : bytes.count
                    while end > start, bytes[end - 1] == 0 { end -= 1 }
                    units.append(Array(bytes[start..<end]))
                }
                let sample = units.flatMap { Bytes.put($0.count, 4) + $0 }
                if crop == "crop_bottom=8" {
                    XCTAssertNoThrow(
                        try ISOSampleFilter.filter(sample, format: format, lengthSize: 4), "\(codec) \(crop)")
                } else {
                    XCTAssertThrowsError(try ISOSampleFilter.filter(sample, format: format, lengthSize: 4)) {
                        XCTAssertTrue("\($0)".contains("shows only 32x32"), "\($0)")
                    }
                }
            }
        }
    }

    /// A clean aperture in a video sample entry (64x64) cropping to 32x32 is refused; one trimming 4 pixels is kept.
    func testAVideoSampleEntryCleanApertureIsChecked() throws {
        func movie(_ width: Int, _ height: Int) throws -> URL {
            let clap = SyntheticISO.box("clap", [width, 1, height, 1, 0, 1, 0, 1].flatMap { SyntheticISO.be($0, 4) })
            let bytes = SyntheticMovie.movie(
                media: [UInt8](repeating: 0x11, count: 2000),
                tracks: [.init(chunks: [0, 1000], sampleSize: 1000, entryChildren: clap)])
            let url = folder.appendingPathComponent("clap-\(width).mp4")
            try Data(bytes).write(to: url)
            return url
        }
        let output = folder.appendingPathComponent("out.mp4").path
        XCTAssertThrowsError(try MediaFile(path: try movie(32, 32).path).sanitize(to: output)) {
            XCTAssertTrue("\($0)".contains("clean aperture (clap) shows only 32x32"), "\($0)")
        }
        XCTAssertNoThrow(try MediaFile(path: try movie(60, 60).path).sanitize(to: output).pending?.commit())
        // SMPTE clean apertures (ffmpeg shows the whole picture; QuickTime crops): within 3% of each dimension.
        let clap = SyntheticISO.box("clap", [1888, 1, 1062, 1, 0, 1, 0, 1].flatMap { SyntheticISO.be($0, 4) })
        XCTAssertNoThrow(
            try ISOMedia.refuseHiddenPixels(
                clap: Array(clap.dropFirst(8)), size: (1920, 1080), what: "HD", broadcastMargins: true))
        XCTAssertThrowsError(
            try ISOMedia.refuseHiddenPixels(clap: Array(clap.dropFirst(8)), size: (1920, 1080), what: "HEIF"))
    }

    /// `movie` (one video track, its `moov` after its `mdat`) with the video sample entry declaring `width`x`height`
    /// and holding a `clap` of that size.
    static func withCleanAperture(_ movie: [UInt8], _ width: Int, _ height: Int) throws -> [UInt8] {
        var bytes = movie
        var parents: [Int] = []
        var at = 0
        var end = bytes.count
        var entry: Range<Int>? = nil
        while at + 8 <= end, entry == nil {
            let size = Bytes.be(bytes, at, 4)
            let type = String(decoding: bytes[(at + 4)..<(at + 8)], as: UTF8.self)
            guard size >= 8 else { break }
            if ["moov", "trak", "mdia", "minf", "stbl", "stsd"].contains(type) {
                parents.append(at)
                end = at + size
                at += type == "stsd" ? 16 : 8
            } else if ["avc1", "hvc1"].contains(type) {
                entry = at..<(at + size)
            } else {
                at += size
            }
        }
        let found = try XCTUnwrap(entry, "no video sample entry")
        let clap = SyntheticISO.box("clap", [width, 1, height, 1, 0, 1, 0, 1].flatMap { SyntheticISO.be($0, 4) })
        bytes.replaceSubrange(
            (found.lowerBound + 32)..<(found.lowerBound + 36), with: Bytes.put(width, 2) + Bytes.put(height, 2))
        bytes.insert(contentsOf: clap, at: found.upperBound)
        for box in parents + [found.lowerBound] {
            bytes.replaceSubrange(box..<(box + 4), with: Bytes.put(Bytes.be(bytes, box, 4) + clap.count, 4))
        }
        return bytes
    }

    /// A sample entry that declares the clean aperture's own size cannot hide a crop of the decoded picture: the
    /// clap is measured against the picture the SPS decodes to (64x48) as well. A tkhd or entry size that only
    /// scales (no clap) is published.
    func testASampleEntryClaimingTheCleanAperturesSizeIsStillRefused() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let plain = try DecodeOracle.generate(ffmpeg, in: folder, "plain.mp4", ["-map", "0:v", "-c:v", "libx264"])
        let original = try Fixtures.bytes(plain)
        let hiding = folder.appendingPathComponent("hiding.mp4")
        try Data(try Self.withCleanAperture(original, 64, 24)).write(to: hiding)
        let output = folder.appendingPathComponent("out.mp4").path
        XCTAssertThrowsError(try MediaFile(path: hiding.path).sanitize(to: output)) {
            XCTAssertTrue("\($0)".contains("64x48 pixels but its clean aperture (clap) shows only 64x24"), "\($0)")
        }
        let whole = folder.appendingPathComponent("whole.mp4")
        try Data(try Self.withCleanAperture(original, 64, 48)).write(to: whole)
        XCTAssertNoThrow(try MediaFile(path: whole.path).sanitize(to: output).pending?.commit())
    }
}
