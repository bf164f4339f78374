import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// One file per row of the codec configuration table (`ISOSampleEntryChildren.swift`): ffmpeg writes it where it can,
/// otherwise it is built byte by byte. Each is stripped by the built executable, keeps its configuration box byte for
/// byte, and decodes in ffmpeg to the same video frames and audio samples as before (`DecodeOracle`).
final class ISOCodecConfigurationTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// Strips `input`, checks the box `type` is published unchanged, and that ffmpeg decodes both alike.
    func assertPublished(
        _ ffmpeg: String, _ input: URL, keeping type: String, file: StaticString = #filePath, line: UInt = #line
    )
        throws
    {
        let output = folder.appendingPathComponent("clean-" + input.lastPathComponent)
        let run = try DecodeOracle.strip(input, output)
        XCTAssertEqual(
            run.status, 0, "\(input.lastPathComponent) was not published: \(run.output)", file: file, line: line)
        guard run.status == 0 else { return }
        let before = DecodeOracle.payload(of: type, in: try Fixtures.bytes(input))
        XCTAssertNotNil(before, "\(input.lastPathComponent) holds no \(type)", file: file, line: line)
        XCTAssertEqual(
            before, DecodeOracle.payload(of: type, in: try Fixtures.bytes(output)),
            "\(type) of \(input.lastPathComponent) is not published as written", file: file, line: line)
        try DecodeOracle.assertSameDecode(ffmpeg, input, output, file: file, line: line)
    }

    func testAVCConfigurationsOfEveryProfileWithOrWithoutTheirExtension() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        // (file, profile_idc in the avcC, ffmpeg arguments); every profile but Baseline carries the extension.
        let rows: [(String, UInt8, [String])] = [
            ("avc-high444-lossless.mp4", 244, ["-pix_fmt", "yuv444p", "-qp", "0"]),
            ("avc-high10.mp4", 110, ["-profile:v", "high10", "-pix_fmt", "yuv420p10le"]),
            ("avc-high422.mp4", 122, ["-profile:v", "high422", "-pix_fmt", "yuv422p"]),
            ("avc-high.mp4", 100, ["-profile:v", "high", "-pix_fmt", "yuv420p"]),
            ("avc-baseline.mp4", 66, ["-profile:v", "baseline", "-pix_fmt", "yuv420p"]),
        ]
        for (name, profile, arguments) in rows {
            let input = try DecodeOracle.generate(
                ffmpeg, in: folder, name, ["-map", "0:v", "-c:v", "libx264"] + arguments)
            let avcC = try XCTUnwrap(DecodeOracle.payload(of: "avcC", in: try Fixtures.bytes(input)), name)
            XCTAssertEqual(avcC[1], profile, name)
            // The extension is there (4 bytes after the parameter sets) exactly when the profile has one.
            XCTAssertEqual(try ISOExact.avcLength(avcC), avcC.count, name)
            try assertPublished(ffmpeg, input, keeping: "avcC")
        }
    }

    /// x265 writes its build and whole option string into hvcC as a user-data SEI: the published hvcC keeps the
    /// parameter set arrays only, and the movie decodes as before.
    func testHEVCConfigurationKeepsItsParameterSetsAndDropsTheEncodersSEI() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let input = try DecodeOracle.generate(
            ffmpeg, in: folder, "hevc.mp4", ["-map", "0:v", "-c:v", "libx265", "-x265-params", "log-level=error"])
        let needle = Array("x265 (build".utf8)
        let original = try Fixtures.bytes(input)
        XCTAssertNotNil(original.firstRange(of: needle), "x265 wrote no SEI into hvcC: the test proves nothing")
        let output = folder.appendingPathComponent("clean-hevc.mp4")
        let run = try DecodeOracle.strip(input, output)
        XCTAssertEqual(run.status, 0, run.output)
        let published = try Fixtures.bytes(output)
        XCTAssertNil(published.firstRange(of: needle), "the encoder's SEI is published")
        let before = try XCTUnwrap(DecodeOracle.payload(of: "hvcC", in: original))
        let after = try XCTUnwrap(DecodeOracle.payload(of: "hvcC", in: published))
        XCTAssertEqual(after, try ISOExact.publishedHEVCConfiguration(before, head: 22))
        XCTAssertEqual(after[22], 3, "VPS, SPS and PPS arrays")
        XCTAssertEqual(Array(after[0..<22]), Array(before[0..<22]))
        try DecodeOracle.assertSameDecode(ffmpeg, input, output)
    }

    /// SEI NAL units in hvcC: kept when every message is a display one, dropped when none is, rebuilt when mixed.
    func testHEVCConfigurationSEIAllowlist() throws {
        func sei(_ messages: [(type: UInt8, payload: [UInt8])]) -> [UInt8] {
            [0x4E, 0x01] + messages.flatMap { [$0.type, UInt8($0.payload.count)] + $0.payload } + [0x80]
        }
        let userData = sei([(5, [UInt8](repeating: 0xAA, count: 16) + Array("Jane Doe MRN 12345".utf8))])
        let light = sei([(144, [0, 100, 0, 50])])
        let mixed = sei([(144, [0, 100, 0, 50]), (5, [UInt8](repeating: 0xAA, count: 16))])
        // x265's SPS of a 64x48 picture.
        let sps: [UInt8] = [
            0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9E, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x1E, 0x90,
            0x04, 0x10, 0x62, 0xCB, 0x2B, 0x35, 0xC9, 0x95, 0xE0, 0x2D, 0xC0, 0x80, 0x80, 0x01, 0x00, 0x00, 0x03, 0x00,
            0x01, 0x00, 0x00, 0x03, 0x00, 0x0A, 0x08,
        ]
        func hvcC(_ units: [[UInt8]]) -> [UInt8] {
            var record = [1] + [UInt8](repeating: 0, count: 21) + [2]
            record += [0x21, 0, 1, 0, UInt8(sps.count)] + sps
            record += [0x27] + SyntheticISO.be(units.count, 2) + units.flatMap { SyntheticISO.be($0.count, 2) + $0 }
            return record
        }
        let dropped = try ISOExact.publishedHEVCConfiguration(hvcC([userData, light]), head: 22)
        XCTAssertEqual(dropped, hvcC([light]))
        XCTAssertNil(dropped.firstRange(of: Array("Jane Doe".utf8)))
        // No SEI left: the array goes too.
        XCTAssertEqual(
            try ISOExact.publishedHEVCConfiguration(hvcC([userData]), head: 22),
            [1] + [UInt8](repeating: 0, count: 21) + [1, 0x21, 0, 1, 0, UInt8(sps.count)] + sps)
        // Both kinds in one unit: rebuilt with the display message only.
        XCTAssertEqual(try ISOExact.publishedHEVCConfiguration(hvcC([mixed]), head: 22), hvcC([light]))
        // Not SEI messages (a payload size past the unit's end): refused.
        XCTAssertThrowsError(try ISOExact.publishedHEVCConfiguration(hvcC([[0x4E, 0x01, 5, 40, 1, 0x80]]), head: 22))
        // An emulation prevention byte inside a kept message does not break the parse.
        // (24 payload bytes once the 0x03 is removed.)
        let escaped: [UInt8] = [0x4E, 0x01, 137, 24, 0, 0, 3, 1] + [UInt8](repeating: 1, count: 21) + [0x80]
        XCTAssertEqual(try ISOExact.publishedHEVCConfiguration(hvcC([escaped]), head: 22), hvcC([escaped]))
        // Rebuilt after a user-data message: the emulation prevention byte is put back.
        let both = [0x4E, 0x01, 5, 16] + [UInt8](repeating: 0xAA, count: 16) + escaped.dropFirst(2)
        XCTAssertEqual(try ISOExact.publishedHEVCConfiguration(hvcC([both]), head: 22), hvcC([escaped]))

        // In a movie: the hvcC is shrunk in its sample entry, the rest a free box, and the fingerprint holds.
        let children = SyntheticISO.box("hvcC", hvcC([userData, light]))
        let movie = SyntheticMovie.movie(
            media: [UInt8](repeating: 0x11, count: 2000),
            tracks: [.init(chunks: [0, 1000], sampleSize: 1000, entryChildren: children)])
        let input = folder.appendingPathComponent("sei.mp4")
        try Data(movie).write(to: input)
        let output = folder.appendingPathComponent("out-sei.mp4")
        try MediaFile(path: input.path).sanitize(to: output.path).pending?.commit()
        let published = try Fixtures.bytes(output)
        XCTAssertNil(published.firstRange(of: Array("Jane Doe".utf8)))
        XCTAssertEqual(DecodeOracle.payload(of: "hvcC", in: published), hvcC([light]))
        XCTAssertEqual(
            try MediaFile(path: input.path).fingerprints().presentedSHA256,
            try MediaFile(path: output.path).fingerprints().presentedSHA256)

        // lhvC (the second layer of an MV-HEVC stereo movie): the same arrays after 5 fixed bytes.
        let lhvHead: [UInt8] = [1, 0xF0, 0x00, 0xFC, 0xCF]
        let lhvC =
            lhvHead + [2, 0x21, 0, 1] + SyntheticISO.be(sps.count, 2) + sps + [0x27, 0, 1]
            + SyntheticISO.be(userData.count, 2) + userData
        let layered = SyntheticMovie.movie(
            media: [UInt8](repeating: 0x11, count: 2000),
            tracks: [
                .init(
                    chunks: [0, 1000], sampleSize: 1000,
                    entryChildren: SyntheticISO.box("hvcC", hvcC([light])) + SyntheticISO.box("lhvC", lhvC))
            ])
        let stereo = folder.appendingPathComponent("lhvc.mp4")
        try Data(layered).write(to: stereo)
        let cleanStereo = folder.appendingPathComponent("out-lhvc.mp4")
        try MediaFile(path: stereo.path).sanitize(to: cleanStereo.path).pending?.commit()
        let publishedStereo = try Fixtures.bytes(cleanStereo)
        XCTAssertNil(publishedStereo.firstRange(of: Array("Jane Doe".utf8)))
        XCTAssertEqual(
            DecodeOracle.payload(of: "lhvC", in: publishedStereo),
            lhvHead + [1, 0x21, 0, 1] + SyntheticISO.be(sps.count, 2) + sps)
        XCTAssertEqual(DecodeOracle.payload(of: "hvcC", in: publishedStereo), hvcC([light]))

        // A HEIF picture's hvcC property: rebuilt without the user data.
        let heif = SyntheticHEIF.file(
            data: [63, 0x26, 0x01] + [UInt8](repeating: 0x22, count: 253), items: [(1, "hvc1", [(0, 64)])],
            properties: [SyntheticISO.box("hvcC", hvcC([userData, light]))])
        let picture = folder.appendingPathComponent("sei.heic")
        try Data(heif).write(to: picture)
        let cleanPicture = folder.appendingPathComponent("out-sei.heic")
        try MediaFile(path: picture.path).sanitize(to: cleanPicture.path).pending?.commit()
        let publishedPicture = try Fixtures.bytes(cleanPicture)
        XCTAssertNil(publishedPicture.firstRange(of: Array("Jane Doe".utf8)))
        XCTAssertEqual(DecodeOracle.payload(of: "hvcC", in: publishedPicture), hvcC([light]))
        XCTAssertEqual(
            try MediaFile(path: picture.path).fingerprints().presentedSHA256,
            try MediaFile(path: cleanPicture.path).fingerprints().presentedSHA256)
    }

    func testAV1Configuration() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let input = try DecodeOracle.generate(
            ffmpeg, in: folder, "av1.mp4", ["-map", "0:v", "-c:v", "libaom-av1", "-cpu-used", "8"])
        try assertPublished(ffmpeg, input, keeping: "av1C")
    }

    func testVP9ConfigurationOfBothVersions() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let input = try DecodeOracle.generate(ffmpeg, in: folder, "vp9-v1.mp4", ["-map", "0:v", "-c:v", "libvpx-vp9"])
        var bytes = try Fixtures.bytes(input)
        let v1 = try XCTUnwrap(DecodeOracle.payload(of: "vpcC", in: bytes))
        XCTAssertEqual(v1.count, 12, "ffmpeg writes version 1: 8 bytes of fields and no initialization data")
        XCTAssertEqual(v1[0], 1)
        try assertPublished(ffmpeg, input, keeping: "vpcC")

        // Version 0 (the older layout, 6 bytes of fields), built from the same file in the box's place: profile,
        // level, bit depth and colour space, chroma, transfer and range, then 2 bytes of initialization data.
        let at = try XCTUnwrap(bytes.firstRange(of: Array("vpcC".utf8))).upperBound
        let depthAndColourSpace: UInt8 = (v1[6] & 0xF0) | 1
        let chromaTransferRange: UInt8 = ((v1[6] >> 1) & 7) << 4 | 2 << 1 | (v1[6] & 1)
        let v0: [UInt8] = [0, 0, 0, 0, v1[4], v1[5], depthAndColourSpace, chromaTransferRange, 0, 2, 0, 0]
        bytes.replaceSubrange(at..<(at + 12), with: v0)
        let older = folder.appendingPathComponent("vp9-v0.mp4")
        try Data(bytes).write(to: older)
        XCTAssertEqual(try ISOExact.childLength("vpcC", v0), 12)
        try assertPublished(ffmpeg, older, keeping: "vpcC")
    }

    func testAudioConfigurations() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let rows: [(String, String, [String])] = [
            ("opus.mp4", "dOps", ["-c:a", "libopus"]),
            ("flac.mp4", "dfLa", ["-c:a", "flac", "-strict", "-2"]),
            // (Without the edit list that hides the encoder's priming samples: hidden media is another issue.)
            ("aac.mp4", "esds", ["-c:a", "aac", "-use_editlist", "0"]),
            ("aac.mov", "esds", ["-c:a", "aac", "-use_editlist", "0"]),  // inside QuickTime's wave box
            ("alac.m4a", "alac", ["-c:a", "alac"]),
            ("pcm-s16le.mov", "chan", ["-c:a", "pcm_s16le"]),  // sowt with a Core Audio channel layout
        ]
        for (name, type, arguments) in rows {
            let input = try DecodeOracle.generate(ffmpeg, in: folder, name, ["-map", "1:a"] + arguments)
            try assertPublished(ffmpeg, input, keeping: type)
        }
    }

    /// Other codecs ffmpeg writes, each with the box its decoder reads: same decode after strip.
    func testOtherCodecsDecodeTheSame() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let rows: [(String, String, [String])] = [
            ("ac3.mp4", "dac3", ["-map", "1:a", "-c:a", "ac3", "-use_editlist", "0"]),
            ("eac3.mp4", "dec3", ["-map", "1:a", "-c:a", "eac3", "-use_editlist", "0"]),
            ("mp3.mp4", "esds", ["-map", "1:a", "-c:a", "libmp3lame", "-ar", "44100", "-use_editlist", "0"]),
            ("pcm-s24le.mov", "enda", ["-map", "1:a", "-c:a", "pcm_s24le"]),  // byte order inside wave
            ("mpeg4.mp4", "esds", ["-map", "0:v", "-c:v", "mpeg4"]),
            ("h263.3gp", "d263", ["-map", "0:v", "-vf", "scale=176:144", "-c:v", "h263"]),
            ("mjpeg.mov", "fiel", ["-map", "0:v", "-c:v", "mjpeg"]),
            ("prores.mov", "fiel", ["-map", "0:v", "-c:v", "prores_ks"]),
        ]
        for (name, type, arguments) in rows {
            let input = try DecodeOracle.generate(ffmpeg, in: folder, name, arguments)
            try assertPublished(ffmpeg, input, keeping: type)
        }
    }

    /// dfLa with blocks after STREAMINFO (a Vorbis comment is text): published with STREAMINFO alone, flagged last.
    func testFLACConfigurationKeepsItsStreamInfoOnly() throws {
        let streamInfo = [0x10, 0, 0x10, 0] + [UInt8](repeating: 0x5A, count: 30)
        let comment = Array("reference libFLAC\u{0}ARTIST=Jane Doe MRN 12345".utf8)
        let dfLa =
            [0, 0, 0, 0, 0x00, 0, 0, 34] + streamInfo + [0x01, 0, 0, 4] + [0, 0, 0, 0]  // padding
            + [0x84] + SyntheticISO.be(comment.count, 3) + comment  // Vorbis comment, the last block
        let entry = SyntheticISO.box(
            "fLaC",
            SyntheticISO.zeros(6) + [0, 1] + SyntheticISO.zeros(8) + [0, 2, 0, 16, 0, 0, 0, 0, 0xAC, 0x44, 0, 0]
                + SyntheticISO.box("dfLa", dfLa))
        let movie = SyntheticMovie.movie(
            media: [UInt8](repeating: 0x33, count: 2000),
            tracks: [.init(handler: "soun", chunks: [0, 1000], sampleSize: 1000, entry: entry)])
        let input = folder.appendingPathComponent("flac-tags.mp4")
        try Data(movie).write(to: input)
        let output = folder.appendingPathComponent("out-flac-tags.mp4")
        try MediaFile(path: input.path).sanitize(to: output.path).pending?.commit()
        let published = try Fixtures.bytes(output)
        XCTAssertNil(published.firstRange(of: Array("Jane Doe".utf8)))
        XCTAssertEqual(DecodeOracle.payload(of: "dfLa", in: published), [0, 0, 0, 0, 0x80, 0, 0, 34] + streamInfo)
        XCTAssertEqual(
            try MediaFile(path: input.path).fingerprints().presentedSHA256,
            try MediaFile(path: output.path).fingerprints().presentedSHA256)
        // A configuration that does not open with STREAMINFO is refused.
        XCTAssertThrowsError(try ISOExact.childLength("dfLa", [0, 0, 0, 0, 0x84, 0, 0, 1, 0]))
    }

    /// The published copy of little-endian PCM plays as little-endian: its pcmC is kept (ffmpeg would decode the
    /// samples as big-endian without it), and the presented fingerprint covers it.
    func testLittleEndianPCMKeepsItsByteOrder() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let input = folder.appendingPathComponent("ipcm-le.mp4")
        try Data(SyntheticPCM.movie()).write(to: input)
        let bare = folder.appendingPathComponent("ipcm-no-pcmC.mp4")
        try Data(SyntheticPCM.movie(withConfiguration: false)).write(to: bare)
        // Without pcmC the same bytes decode to other samples: the oracle would see a lost pcmC.
        XCTAssertNotEqual(
            try DecodeOracle.framemd5(ffmpeg, input.path).text, try DecodeOracle.framemd5(ffmpeg, bare.path).text)
        try assertPublished(ffmpeg, input, keeping: "pcmC")
        XCTAssertEqual(
            DecodeOracle.payload(
                of: "chnl", in: try Fixtures.bytes(folder.appendingPathComponent("clean-ipcm-le.mp4"))),
            [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])

        // A record for the little-endian movie does not match the same samples declared big-endian.
        let other = folder.appendingPathComponent("ipcm-be-flag.mp4")
        var flipped = SyntheticPCM.movie()
        let at = try XCTUnwrap(flipped.firstRange(of: Array("pcmC".utf8))).upperBound
        flipped[at + 4] = 0
        try Data(flipped).write(to: other)
        XCTAssertNotEqual(
            try MediaFile(path: input.path).fingerprints().presentedSHA256,
            try MediaFile(path: other.path).fingerprints().presentedSHA256)
    }

    /// ISO's AudioSampleEntryV1 (version 1, 36 bytes of fields, then `srat` and the rest) is read as ISO's, not
    /// as QuickTime's version 1 (16 more bytes of fields): its `pcmC` is found, checked and kept.
    func testISOAudioSampleEntryVersion1() throws {
        let fields =
            SyntheticISO.zeros(6) + [0, 1] + [0, 1] + SyntheticISO.zeros(6) + [0, 2, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0]
        let children = SyntheticISO.full("srat", SyntheticISO.be(192_000, 4)) + SyntheticISO.full("pcmC", [1, 16])
        let entry = Array(SyntheticISO.box("ipcm", fields + children))
        let stsd = [0, 0, 0, 0] + SyntheticISO.be(1, 4) + entry
        let shape = try ISOExact.shape("stsd", stsd, handler: "soun", sampleCount: 1)
        XCTAssertEqual(shape.defined, stsd.count)
        XCTAssertTrue(shape.patches.isEmpty, "srat and pcmC kept as they are")
        // The same entry with a reserved pcmC flag: refused, so the children were read.
        var hostile = stsd
        hostile[hostile.count - 2] = 3
        XCTAssertThrowsError(try ISOExact.shape("stsd", hostile, handler: "soun", sampleCount: 1))
    }

    func testSampleEntryChildrenAreKeptFreedOrRefusedByType() throws {
        let media = [UInt8](repeating: 0x11, count: 2000)
        func movie(_ children: [UInt8]) -> [UInt8] {
            SyntheticMovie.movie(
                media: media, tracks: [.init(chunks: [0, 1000], sampleSize: 1000, entryChildren: children)])
        }
        func sanitize(_ bytes: [UInt8], _ name: String) throws -> [UInt8] {
            let input = folder.appendingPathComponent(name)
            try Data(bytes).write(to: input)
            let output = folder.appendingPathComponent("out-" + name)
            try MediaFile(path: input.path).sanitize(to: output.path).pending?.commit()
            return try Fixtures.bytes(output)
        }
        let avcC = [1, 0x64, 0, 0x0A, 0xFF, 0xE1, 0, 24, 0x67, 0x64, 0x00, 0x0A, 0xAC, 0xD9, 0x44, 0x7B, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x01, 0x40, 0xF1, 0x22, 0x59, 0x60, 1, 0, 2, 0x68, 0xEE] as [UInt8]
        // A box no rule names: a decoder might read it, so the movie is refused rather than changed.
        let unknown = movie(SyntheticISO.box("avcC", avcC) + SyntheticISO.box("zzzz", Array("payload".utf8)))
        XCTAssertThrowsError(try sanitize(unknown, "unknown.mp4")) {
            XCTAssertTrue("\($0)".contains("'zzzz' box this sanitizer does not know"), "\($0)")
        }
        // Known not to change decoding: freed (spherical projection naming its writer).
        let text = Array("Stitched by Camera Serial 1234".utf8)
        let spherical = movie(
            SyntheticISO.box("avcC", avcC) + SyntheticISO.box("sv3d", SyntheticISO.full("svhd", text + [0])))
        let freed = try sanitize(spherical, "spherical.mp4")
        XCTAssertNil(freed.firstRange(of: text))
        XCTAssertNil(freed.firstRange(of: Array("sv3d".utf8)))
        XCTAssertNotNil(freed.firstRange(of: avcC))
        // pcmC with reserved flags, chnl of an unknown version: refused, not freed.
        for (type, payload) in [("pcmC", [0, 0, 0, 0, 3, 16]), ("chnl", [1, 0, 0, 0, 1, 1] + SyntheticISO.zeros(8))]
            as [(String, [UInt8])]
        {
            XCTAssertThrowsError(try ISOExact.childLength(type, payload, channels: 1), type)
        }
    }

    /// Found by fuzzing (Scripts/fuzz iso): a vpcC whose initialization data size, or a dOps whose channel mapping,
    /// claims more bytes than the box holds was read past its end (a crash of the reader); now refused.
    func testAConfigurationClaimingMoreThanItsBoxIsRefused() throws {
        for child in [
            SyntheticISO.box("vpcC", [1, 0, 0, 0, 1, 0x0A, 0x87, 2, 2, 0, 0, 1]),
            SyntheticISO.box("dOps", [0, 2, 0, 0, 0, 0, 0xBB, 0x80, 0, 0, 1]),
        ] {
            let movie = SyntheticMovie.movie(
                media: [UInt8](repeating: 0x11, count: 2000),
                tracks: [.init(chunks: [0, 1000], sampleSize: 1000, entryChildren: child)])
            let input = folder.appendingPathComponent("claim.mp4")
            try Data(movie).write(to: input)
            XCTAssertThrowsError(try MediaFile(path: input.path).sanitize(to: nil)) {
                XCTAssertTrue("\($0)".contains("shorter than its fields"), "\($0)")
            }
        }
    }
}
