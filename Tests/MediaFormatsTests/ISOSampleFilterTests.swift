import ByteKit
import Foundation
import TestSupport
import XCTest

@_spi(Fuzzing) @testable import MediaFormats

/// `ISOSampleFilter`: metadata NAL units and OBUs out of video samples, built byte by byte and written by ffmpeg;
/// what is left decodes to the same frames (framemd5).
final class ISOSampleFilterTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    let needle = Array("Jane Doe MRN 12345".utf8)

    /// NAL units, each prefixed by a 4-byte length.
    func sample(_ units: [[UInt8]], lengthSize: Int = 4) -> [UInt8] {
        units.flatMap { Bytes.put($0.count, lengthSize) + $0 }
    }

    /// An SEI NAL unit (header bytes, then messages of type and payload, then the trailing bits).
    func sei(_ header: [UInt8], _ messages: [(type: Int, payload: [UInt8])]) -> [UInt8] {
        var rbsp: [UInt8] = []
        for message in messages {
            var type = message.type
            while type >= 255 {
                rbsp.append(0xFF)
                type -= 255
            }
            rbsp.append(UInt8(type))
            var size = message.payload.count
            while size >= 255 {
                rbsp.append(0xFF)
                size -= 255
            }
            rbsp.append(UInt8(size))
            rbsp += message.payload
        }
        return header + SEIAllowlist.escaped(rbsp + [0x80])
    }

    var userData: [UInt8] { [UInt8](repeating: 0xAA, count: 16) + needle }

    /// x264's SPS of a 64x48 picture (High profile, 4:2:0).
    static let sps: [UInt8] = [
        0x67, 0x64, 0x00, 0x0A, 0xAC, 0xD9, 0x44, 0x7B, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03,
        0x01, 0x40, 0xF1, 0x22, 0x59, 0x60,
    ]

    func testH264SEIOutsideTheAllowlistFillerAndUnspecifiedNALUnitsAreDropped() throws {
        let sps = Self.sps
        let slice: [UInt8] = [0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x01, 0x21]
        let light = sei([0x06], [(144, [0, 100, 0, 50])])
        let user = sei([0x06], [(5, userData)])
        let registered = sei([0x06], [(4, [0xB5, 0, 0x31] + needle)])
        let mixed = sei([0x06], [(144, [0, 100, 0, 50]), (5, userData), (1, [0x00, 0x00, 0x01])])
        let filler: [UInt8] = [0x0C] + needle + [0x80]
        let unspecified: [UInt8] = [0x1E] + needle
        let input = sample([sps, user, light, registered, mixed, filler, unspecified, slice])
        let output = try ISOSampleFilter.filter(input, format: "avc1", lengthSize: 4)
        XCTAssertNil(output.firstRange(of: needle))
        let rebuilt = sei([0x06], [(144, [0, 100, 0, 50]), (1, [0x00, 0x00, 0x01])])
        XCTAssertEqual(output, sample([sps, light, rebuilt, slice]))
        // A display message larger than its syntax (room for hidden bytes) is dropped too.
        let padded = sei([0x06], [(144, [0, 100, 0, 50] + needle)])
        XCTAssertEqual(
            try ISOSampleFilter.filter(sample([padded, slice]), format: "avc3", lengthSize: 4), sample([slice]))
        // Nothing to drop: the same bytes; 2-byte lengths read as such.
        let clean = sample([sps, light, slice], lengthSize: 2)
        XCTAssertEqual(try ISOSampleFilter.filter(clean, format: "avc1", lengthSize: 2), clean)
        // Cannot be split into NAL units, or nothing but metadata: refused.
        XCTAssertThrowsError(try ISOSampleFilter.filter(input.dropLast(1), format: "avc1", lengthSize: 4))
        XCTAssertThrowsError(try ISOSampleFilter.filter(sample([user]), format: "avc1", lengthSize: 4))
        XCTAssertThrowsError(try ISOSampleFilter.filter(input, format: "avc1", lengthSize: 3))
        // Other codecs pass through.
        XCTAssertEqual(try ISOSampleFilter.filter(input, format: "mp4a", lengthSize: 4), input)
    }

    func testHEVCSEIIsFilteredAndDolbyVisionRPUKept() throws {
        let slice: [UInt8] = [0x26, 0x01, 0xAF, 0x11]
        let prefix = sei([0x4E, 0x01], [(5, userData), (137, [UInt8](repeating: 1, count: 24))])
        let suffix = sei([0x50, 0x01], [(132, [0] + [UInt8](repeating: 7, count: 16)), (4, needle)])
        let rpu: [UInt8] = [0x7C, 0x01, 0x19, 0x08, 0x09]
        let enhancement: [UInt8] = [0x7E, 0x01, 0x55]
        let filler: [UInt8] = [0x4C, 0x01] + needle
        let unspecified: [UInt8] = [0x60, 0x01] + needle  // type 48
        let input = sample([prefix, slice, suffix, rpu, enhancement, filler, unspecified])
        for format in ["hvc1", "hev1", "dvh1", "dvhe"] {
            let output = try ISOSampleFilter.filter(input, format: format, lengthSize: 4)
            XCTAssertNil(output.firstRange(of: needle), format)
            XCTAssertEqual(
                output,
                sample([
                    sei([0x4E, 0x01], [(137, [UInt8](repeating: 1, count: 24))]), slice,
                    sei([0x50, 0x01], [(132, [0] + [UInt8](repeating: 7, count: 16))]), rpu, enhancement,
                ]), format)
        }
        // An SEI that cannot be read as messages is dropped whole (an SEI never changes the decoded picture).
        let unreadable: [UInt8] = [0x4E, 0x01, 5, 40] + needle
        XCTAssertEqual(
            try ISOSampleFilter.filter(sample([unreadable, slice]), format: "hvc1", lengthSize: 4), sample([slice]))
    }

    func testAV1MetadataAndPaddingOBUsAreDropped() throws {
        func obu(_ type: UInt8, _ payload: [UInt8]) -> [UInt8] { [type << 3 | 0x02, UInt8(payload.count)] + payload }
        let sequence = obu(1, [0x00, 0x00, 0x00, 0x02, 0xAF])
        let frame = obu(6, [0x10, 0x20, 0x30])
        let t35 = obu(5, [4, 0xB5, 0x00, 0x3C] + needle + [0x80])
        let timecode = obu(5, [5, 0x1F, 0x00, 0x01, 0x80])
        let light = obu(5, [1, 0x01, 0x00, 0x00, 0x80, 0x80])
        let padding = obu(15, needle)
        let reserved = obu(10, needle)
        let input = sequence + t35 + light + timecode + padding + reserved + frame
        let output = try ISOSampleFilter.filter(input, format: "av01", lengthSize: 4)
        XCTAssertNil(output.firstRange(of: needle))
        XCTAssertEqual(output, sequence + light + frame)
        XCTAssertEqual(try ISOSampleFilter.filter(sequence + frame, format: "av01", lengthSize: 4), sequence + frame)
        // An OBU with an extension byte, and a last OBU without a size field.
        let extended: [UInt8] = [6 << 3 | 0x06, 0x08, 2, 0x10, 0x20]
        let unsized: [UInt8] = [6 << 3] + [0x01, 0x02]
        XCTAssertEqual(
            try ISOSampleFilter.filter(extended + t35 + unsized, format: "av01", lengthSize: 4), extended + unsized)
        XCTAssertThrowsError(try ISOSampleFilter.filter(sequence + [0x32, 40, 1], format: "av01", lengthSize: 4))
        XCTAssertThrowsError(try ISOSampleFilter.filter(t35 + padding, format: "av01", lengthSize: 4))
    }

    /// `hvcC`'s SEI array and `avcC` lists: the same allowlist (an avcC with an SEI among its parameter sets is
    /// published without it, no longer refused).
    func testConfigurationRecordsUseTheSameAllowlist() throws {
        let sps: [UInt8] = [0x67, 0x64, 0x00, 0x0A, 0xAC]
        let pps: [UInt8] = [0x68, 0xEE, 0x3C, 0x80]
        let user = sei([0x06], [(5, userData)])
        func avcC(_ spsList: [[UInt8]], _ ppsList: [[UInt8]]) -> [UInt8] {
            var record: [UInt8] = [1, 0x64, 0, 0x0A, 0xFF, 0xE0 | UInt8(spsList.count)]
            for unit in spsList { record += Bytes.put(unit.count, 2) + unit }
            record.append(UInt8(ppsList.count))
            for unit in ppsList { record += Bytes.put(unit.count, 2) + unit }
            return record + [0xFD, 0xF8, 0xF8, 0]
        }
        XCTAssertEqual(
            try ISOExact.publishedConfiguration("avcC", avcC([sps, user], [pps, user])), avcC([sps], [pps]))
        XCTAssertEqual(try ISOExact.publishedConfiguration("avcC", avcC([sps], [pps])), avcC([sps], [pps]))
        // A slice in a parameter set list is refused.
        XCTAssertThrowsError(try ISOExact.publishedConfiguration("avcC", avcC([sps], [pps, [0x65, 0x88]])))
        // The hvcC allowlist has the size limits too.
        let big = sei([0x4E, 0x01], [(144, [0, 100, 0, 50] + needle)])
        XCTAssertNil(try ISOExact.publishedSEI(big))
    }

    // MARK: ffmpeg-written streams, filtered NAL unit by NAL unit and decoded

    /// The NAL units of an Annex B stream (start codes 00 00 01, zero bytes before them dropped).
    func units(annexB bytes: [UInt8]) -> [[UInt8]] {
        var starts: [Int] = []
        var at = 0
        while at + 3 <= bytes.count {
            if bytes[at] == 0, bytes[at + 1] == 0, bytes[at + 2] == 1 {
                starts.append(at + 3)
                at += 3
            } else {
                at += 1
            }
        }
        return starts.enumerated().map { index, start in
            var end = index + 1 < starts.count ? starts[index + 1] - 3 : bytes.count
            while end > start, bytes[end - 1] == 0 { end -= 1 }
            return Array(bytes[start..<end])
        }
    }

    /// Filters `raw` (Annex B, `format`) as one length-prefixed sample, writes it back as Annex B, and checks the
    /// needle is gone and ffmpeg decodes both to the same frames.
    func assertFilteredDecodesAlike(_ ffmpeg: String, _ raw: URL, format: String, demuxer: String, needle: [UInt8])
        throws
    {
        let original = try Fixtures.bytes(raw)
        XCTAssertNotNil(original.firstRange(of: needle), "ffmpeg wrote no needle: the test proves nothing")
        let filtered = try ISOSampleFilter.filter(sample(units(annexB: original)), format: format, lengthSize: 4)
        var annexB: [UInt8] = []
        var at = 0
        while at < filtered.count {
            let length = Bytes.be(filtered, at, 4)
            annexB += [0, 0, 0, 1] + filtered[(at + 4)..<(at + 4 + length)]
            at += 4 + length
        }
        XCTAssertNil(annexB.firstRange(of: needle), "the needle is still in the filtered stream")
        XCTAssertLessThan(annexB.count, original.count)
        let output = folder.appendingPathComponent("filtered-" + raw.lastPathComponent)
        try Data(annexB).write(to: output)
        func decode(_ url: URL) throws -> String {
            let run = try Fixtures.run(ffmpeg, ["-v", "error", "-f", demuxer, "-i", url.path, "-f", "framemd5", "-"])
            XCTAssertEqual(run.status, 0, run.stderr)
            return run.text
        }
        let before = try decode(raw)
        XCTAssertTrue(before.split(separator: "\n").contains { !$0.hasPrefix("#") }, "no frame decoded")
        XCTAssertEqual(before, try decode(output), "the filtered stream decodes differently")
    }

    func testFFmpegH264UserDataSEIIsRemovedAndFramesDecodeTheSame() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        // Encoded straight to Annex B (in-band parameter sets), the bitstream filter adding the user data SEI.
        let raw = try DecodeOracle.generate(
            ffmpeg, in: folder, "avc.h264",
            [
                "-map", "0:v", "-c:v", "libx264", "-bsf:v",
                "h264_metadata=sei_user_data=086f3693-b7b3-4f2c-9653-21492feee5b8+Jane_Doe_MRN_12345", "-f", "h264",
            ])
        try assertFilteredDecodesAlike(
            ffmpeg, raw, format: "avc1", demuxer: "h264", needle: Array("Jane_Doe_MRN_12345".utf8))
        // x264's own user data (its version and options) goes with it.
        let filtered = try ISOSampleFilter.filter(
            sample(units(annexB: try Fixtures.bytes(raw))), format: "avc1", lengthSize: 4)
        XCTAssertNil(filtered.firstRange(of: Array("x264".utf8)))
    }

    func testFFmpegHEVCEncoderSEIIsRemovedAndFramesDecodeTheSame() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let raw = try DecodeOracle.generate(
            ffmpeg, in: folder, "hevc.hevc",
            ["-map", "0:v", "-c:v", "libx265", "-x265-params", "log-level=error", "-f", "hevc"])
        try assertFilteredDecodesAlike(ffmpeg, raw, format: "hvc1", demuxer: "hevc", needle: Array("x265 (build".utf8))
    }

    /// The fuzz target's codec checks (`CodecFuzzing`, Fuzz/iso.swift) over byte-flipped and cut samples and SPS
    /// units: no crash, and every filtered sample stable and no longer than its input.
    func testMutatedSamplesAndParameterSetsKeepTheFilterStable() throws {
        let sps: [UInt8] = [
            0x67, 0x64, 0x00, 0x0A, 0xAC, 0xD9, 0x44, 0x7B, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03,
            0x01, 0x40, 0xF1, 0x22, 0x59, 0x60,
        ]
        let seeds = [
            sps,
            sample([sei([0x06], [(5, userData), (144, [0, 1, 0, 2])]), [0x65, 0x88, 0x84, 0x00]]),
            sample([sei([0x4E, 0x01], [(137, [UInt8](repeating: 1, count: 24)), (4, needle)]), [0x26, 0x01, 0xAF]]),
            [0x0A, 0x02, 0x00, 0x00, 0x2A, 0x05, 0x01, 0x80, 0x32, 0x01, 0x10],
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % 1_000_003)
        }
        for _ in 0..<20_000 {
            var bytes = seeds[next() % seeds.count]
            for _ in 0..<(1 + next() % 4) where !bytes.isEmpty {
                switch next() % 3 {
                case 0: bytes[next() % bytes.count] = UInt8(next() % 256)
                case 1: bytes.removeLast(next() % bytes.count)
                default: bytes.insert(UInt8(next() % 256), at: next() % bytes.count)
                }
            }
            XCTAssertNil(CodecFuzzing.check(bytes), "\(bytes)")
        }
    }

    /// An AV1 stream (low-overhead OBUs, as in av01 samples) with a T.35 user data metadata OBU and a padding OBU
    /// planted after each temporal delimiter: the filter removes both, and ffmpeg decodes the same frames as from
    /// the stream before planting.
    func testFFmpegAV1MetadataOBUsAreRemovedAndFramesDecodeTheSame() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let raw = try DecodeOracle.generate(
            ffmpeg, in: folder, "av1.obu", ["-map", "0:v", "-c:v", "libaom-av1", "-cpu-used", "8", "-f", "obu"])
        let original = try Fixtures.bytes(raw)
        let t35: [UInt8] = [5 << 3 | 0x02, UInt8(5 + needle.count), 4, 0xB5, 0x00, 0x3C] + needle + [0x80]
        let padding: [UInt8] = [15 << 3 | 0x02, UInt8(needle.count + 1)] + needle + [0x80]
        var planted: [UInt8] = []
        var at = 0
        var delimiters = 0
        while at < original.count {
            let start = at
            let header = original[at]
            XCTAssertNotEqual(header & 0x02, 0, "ffmpeg writes sized OBUs")
            at += header & 0x04 != 0 ? 2 : 1
            var size = 0
            var shift = 0
            while true {
                let byte = original[at]
                at += 1
                size |= Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            at += size
            planted += original[start..<at]
            if (header >> 3) & 0x0F == 2 {
                planted += t35 + padding
                delimiters += 1
            }
        }
        XCTAssertGreaterThan(delimiters, 0)
        let plantedFile = folder.appendingPathComponent("planted.obu")
        try Data(planted).write(to: plantedFile)
        let filtered = try ISOSampleFilter.filter(planted, format: "av01", lengthSize: 4)
        XCTAssertNil(filtered.firstRange(of: needle))
        XCTAssertEqual(filtered, original, "exactly the planted OBUs are removed")
        func decode(_ url: URL) throws -> String {
            let run = try Fixtures.run(ffmpeg, ["-v", "error", "-f", "obu", "-i", url.path, "-f", "framemd5", "-"])
            XCTAssertEqual(run.status, 0, run.stderr)
            return run.text
        }
        let before = try decode(raw)
        XCTAssertTrue(before.split(separator: "\n").contains { !$0.hasPrefix("#") }, "no frame decoded")
        XCTAssertEqual(try decode(plantedFile), before, "the planted stream decodes as the original")
    }
}
