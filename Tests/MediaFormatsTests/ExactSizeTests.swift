import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Patient data hidden inside a kept structure (an outside attacker's finding): the allowlist checked structure
/// types and copied kept structures byte for byte, so text in an ICC profile, after the fields of a pHYs chunk, in
/// extra sub-blocks of a looping extension or after the entries of an stts box was published. Every hostile file
/// here is built byte by byte; the output must hold none of the planted text, and must present the same.
final class ExactSizeTests: XCTestCase {
    static let needle = Array("Patient: Jane Doe, MRN 12345, GPS 41.8781,-87.6298".utf8)
    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8] = needle) -> Bool {
        guard haystack.count >= needle.count else { return false }
        let first = needle[0]
        for index in 0...(haystack.count - needle.count) where haystack[index] == first {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    func assertClean(_ output: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(Self.contains(output), "\(what): the planted text is in the output", file: file, line: line)
        XCTAssertFalse(Self.contains(output, Array("MRN 12345".utf8)), "\(what): part of it", file: file, line: line)
    }

    static func be(_ value: Int, _ width: Int) -> [UInt8] { Bytes.put(value, width) }

    /// With CG_DUMP_HOSTILE set to a folder, each hostile input is also written there (to show an older build
    /// publishing the planted text: `consentgate strip FOLDER/* --output-dir OUT; grep -l "MRN 12345" OUT/*`).
    @discardableResult
    static func dump(_ name: String, _ bytes: [UInt8]) -> [UInt8] {
        if let folder = ProcessInfo.processInfo.environment["CG_DUMP_HOSTILE"] {
            try? Data(bytes).write(to: URL(fileURLWithPath: folder).appendingPathComponent(name))
        }
        return bytes
    }

    // MARK: - ICC profiles

    /// A matrix/TRC profile with the needle in its description, copyright, device-maker description, a private tag
    /// and unreferenced bytes between its tags.
    static func profile(description: String = String(decoding: needle, as: UTF8.self), hostile: Bool = true) -> [UInt8] {
        func pad(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4) }
        let text = Array(description.utf8)
        let desc = Array("desc".utf8) + [0, 0, 0, 0] + be(text.count + 1, 4) + text + [0] + [UInt8](repeating: 0, count: 78)
        let cprt = Array("text".utf8) + [0, 0, 0, 0] + (hostile ? needle : Array("Public domain".utf8)) + [0]
        func xyz(_ x: Int, _ y: Int, _ z: Int) -> [UInt8] { Array("XYZ ".utf8) + [0, 0, 0, 0] + be(x, 4) + be(y, 4) + be(z, 4) }
        let curve = Array("curv".utf8) + [0, 0, 0, 0] + be(1, 4) + [0x02, 0x33]
        var tags: [(String, [UInt8])] = [
            ("desc", desc), ("cprt", cprt), ("wtpt", xyz(0xF6D6, 0x10000, 0xD32D)), ("rXYZ", xyz(0x6FA2, 0x38F5, 0x0390)),
            ("gXYZ", xyz(0x6299, 0xB785, 0x18DA)), ("bXYZ", xyz(0x24A0, 0x0F84, 0xB6CF)), ("rTRC", curve),
        ]
        if hostile { tags += [("dmnd", desc), ("Priv", Array("Priv".utf8) + [0, 0, 0, 0] + needle)] }
        let count = tags.count + 2  // gTRC and bTRC share rTRC's curve
        var table: [UInt8] = be(count, 4)
        var body: [UInt8] = []
        let start = 128 + 4 + 12 * count
        var curveAt = 0
        for (name, data) in tags {
            if hostile && name == "wtpt" { body += pad(needle) }  // bytes no tag names
            let at = start + body.count
            if name == "rTRC" { curveAt = at }
            table += Array(name.utf8) + be(at, 4) + be(data.count, 4)
            body += pad(data)
        }
        for name in ["gTRC", "bTRC"] { table += Array(name.utf8) + be(curveAt, 4) + be(curve.count, 4) }
        var header = [UInt8](repeating: 0, count: 128)
        let size = 128 + table.count + body.count
        header.replaceSubrange(0..<4, with: be(size, 4))
        header.replaceSubrange(8..<12, with: [2, 0x10, 0, 0])
        header.replaceSubrange(12..<24, with: Array("mntrRGB XYZ ".utf8))
        header.replaceSubrange(36..<40, with: Array("acsp".utf8))
        if hostile {
            header.replaceSubrange(48..<56, with: Array("JaneDoe!".utf8))  // device manufacturer and model
            header.replaceSubrange(100..<128, with: Array("MRN 12345 in reserved bytes".utf8) + [0])
        }
        header.replaceSubrange(68..<80, with: be(0xF6D6, 4) + be(0x10000, 4) + be(0xD32D, 4))
        return header + table + body
    }

    func testProfileIsRebuiltFromItsColourTagsAndIsIdempotent() throws {
        let published = try ICCProfile.published(Self.profile())
        assertClean(published, "published profile")
        XCTAssertFalse(Self.contains(published, Array("JaneDoe!".utf8)))
        XCTAssertEqual(try ICCProfile.published(published), published)
        XCTAssertTrue(ICCProfile.isUsable(published))
        // A metadata-only change (the description) publishes the same profile.
        XCTAssertEqual(try ICCProfile.published(Self.profile(description: "sRGB", hostile: false)),
            try ICCProfile.published(Self.profile(description: "Display P3", hostile: false)))
    }

    func testProfilesWithOversizedOrOverlappingColourTagsAreRefused() throws {
        var profile = Self.profile(hostile: false)
        // wtpt (third tag) claims 20 more bytes: it now overlaps the next tag.
        let entry = 132 + 2 * 12
        let size = Bytes.be(profile, entry + 8, 4)
        profile.replaceSubrange((entry + 8)..<(entry + 12), with: Self.be(size + 20, 4))
        XCTAssertThrowsError(try ICCProfile.published(profile))
        // The size field must be the profile's length.
        var wrong = Self.profile(hostile: false)
        wrong.replaceSubrange(0..<4, with: Self.be(wrong.count + 4, 4))
        XCTAssertThrowsError(try ICCProfile.published(wrong))
    }

    // MARK: - JPEG

    static func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] { [0xFF, marker] + be(payload.count + 2, 2) + payload }

    static func jpeg(inserting segments: [[UInt8]]) throws -> [UInt8] {
        let photo = try Fixtures.sample("demo-camera-photo.jpg")
        return Array(photo[0..<2]) + segments.flatMap { $0 } + Array(photo[2...])
    }

    func testJPEGICCProfileTextIsNotPublishedAndTheFingerprintHolds() throws {
        let icc = Self.segment(0xE2, Array("ICC_PROFILE\0".utf8) + [1, 1] + Self.profile())
        let input = Self.dump("icc-profile-text.jpg", try Self.jpeg(inserting: [icc]))
        let clean = try Sanitizer.sanitize(input)
        assertClean(clean.output, "JPEG ICC")
        XCTAssertEqual(try Fingerprints.compute(input).presentedSHA256, try Fingerprints.compute(clean.output).presentedSHA256)
        // An edited description keeps the match; the profile is still there.
        let edited = try Self.jpeg(inserting: [
            Self.segment(0xE2, Array("ICC_PROFILE\0".utf8) + [1, 1] + Self.profile(description: "sRGB"))
        ])
        XCTAssertEqual(try Fingerprints.compute(input).presentedSHA256, try Fingerprints.compute(edited).presentedSHA256)
        XCTAssertNotNil(JPEGSanitizer.iccProfile(clean.output, try JPEGStructure(parsing: clean.output)))
    }

    func testJPEGICCSegmentHoldingOnlyTextIsDropped() throws {
        let icc = Self.segment(0xE2, Array("ICC_PROFILE\0".utf8) + [1, 1] + Self.needle)
        let clean = try Sanitizer.sanitize(Self.dump("icc-app2-text.jpg", try Self.jpeg(inserting: [icc])))
        assertClean(clean.output, "JPEG APP2 text")
        // Text dressed as a profile header (size, signature), the rest text.
        var fake = [UInt8](repeating: 0x20, count: 132) + Self.needle
        fake.replaceSubrange(0..<4, with: Self.be(fake.count, 4))
        fake.replaceSubrange(36..<40, with: Array("acsp".utf8))
        fake.replaceSubrange(128..<132, with: Self.be(0, 4))
        let dressed = try Self.jpeg(inserting: [Self.segment(0xE2, Array("ICC_PROFILE\0".utf8) + [1, 1] + fake)])
        if let output = try? Sanitizer.sanitize(dressed).output { assertClean(output, "JPEG fake profile") }
    }

    func testJPEGTablesLongerThanTheirFieldsAreRefused() throws {
        let photo = try Fixtures.sample("demo-camera-photo.jpg")
        let structure = try JPEGStructure(parsing: photo)
        let dqt = try XCTUnwrap(structure.segments.first { $0.kind == .quantizationTable })
        let grown = Array(photo[0..<dqt.offset]) + Self.segment(0xDB, Array(photo[dqt.payload]) + Self.needle)
            + Array(photo[dqt.payload.upperBound...])
        XCTAssertThrowsError(try Sanitizer.sanitize(grown))
    }

    // MARK: - PNG

    static func png(inserting chunks: [[UInt8]], iend: [UInt8]? = nil) throws -> [UInt8] {
        let picture = try Fixtures.sample("demo-screenshot.png")
        var out = Array(picture[0..<33]) + chunks.flatMap { $0 } + Array(picture[33...])
        if let iend { out = Array(out.dropLast(12)) + PNGSanitizer.chunk("IEND", iend) }
        return out
    }

    func testPNGICCPNameAndProfileTextAreNotPublished() throws {
        var data = try PNGSanitizer.iccChunkData(Self.profile())
        data.removeFirst(PNGSanitizer.iccName.count)
        data = Self.needle + data  // the keyword: the needle (51 Latin-1 bytes)
        let input = try Self.png(inserting: [PNGSanitizer.chunk("iCCP", data)])
        // iccChunkData compresses the published profile: plant the raw hostile profile instead.
        var raw = Self.needle + [0, 0]
        raw += try Self.deflate(Self.profile())
        let hostile = try Self.png(inserting: [PNGSanitizer.chunk("iCCP", raw)])
        Self.dump("iccp-name.png", input)
        Self.dump("iccp-profile-text.png", hostile)
        for file in [input, hostile] {
            let clean = try Sanitizer.sanitize(file)
            assertClean(clean.output, "PNG iCCP")
            let structure = try PNGStructure(parsing: clean.output)
            let iccp = try XCTUnwrap(structure.chunks.first { $0.type == "iCCP" })
            let profile = try XCTUnwrap(PNGSanitizer.iccProfile(clean.output, iccp))
            assertClean(profile, "PNG iCCP profile, inflated")
            XCTAssertTrue(clean.output[iccp.data].starts(with: Array("ICC Profile\0".utf8)))
            XCTAssertEqual(try Fingerprints.compute(file).presentedSHA256, try Fingerprints.compute(clean.output).presentedSHA256)
        }
    }

    /// A zlib stream of `bytes` (stored blocks), written here so the test does not depend on the code under test.
    static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var at = 0
        repeat {
            let piece = Array(bytes[at..<min(bytes.count, at + 65535)])
            at += piece.count
            out += [at >= bytes.count ? 1 : 0] + [UInt8(piece.count & 0xFF), UInt8(piece.count >> 8)]
                + [UInt8(~piece.count & 0xFF), UInt8((~piece.count >> 8) & 0xFF)] + piece
        } while at < bytes.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return out + be(Int(b << 16 | a), 4)
    }

    func testPNGFixedSizeChunksWithTextAppendedAreNotPublished() throws {
        let header = try Fixtures.sample("demo-screenshot.png")
        let colourType = header[25]
        let sbit = [UInt8](repeating: 8, count: [0: 1, 2: 3, 3: 3, 4: 2, 6: 4][Int(colourType)] ?? 3)
        let bkgd = [UInt8](repeating: 0, count: [0: 2, 4: 2, 2: 6, 6: 6, 3: 1][Int(colourType)] ?? 6)
        for (type, fields) in [
            ("pHYs", Self.be(2835, 4) + Self.be(2835, 4) + [1]), ("gAMA", Self.be(45455, 4)), ("bKGD", bkgd),
            ("sBIT", sbit), ("cHRM", [UInt8](repeating: 1, count: 32)), ("sRGB", [0]),
        ] {
            let input = Self.dump(
                "oversized-\(type).png", try Self.png(inserting: [PNGSanitizer.chunk(type, fields + Self.needle)]))
            let clean = try Sanitizer.sanitize(input)
            assertClean(clean.output, "PNG \(type)")
            // Decoders ignore the chunk; so does the fingerprint.
            XCTAssertEqual(
                try Fingerprints.compute(input).presentedSHA256, try Fingerprints.compute(clean.output).presentedSHA256)
        }
        let clean = try Sanitizer.sanitize(Self.dump("iend-data.png", try Self.png(inserting: [], iend: Self.needle)))
        assertClean(clean.output, "PNG IEND")
        XCTAssertEqual(Array(clean.output.suffix(12)), PNGSanitizer.chunk("IEND", []))
    }

    func testPNGVerifierChecksChunkLengths() throws {
        let original = try Fixtures.sample("demo-screenshot.png")
        let hostile = try Self.png(inserting: [PNGSanitizer.chunk("pHYs", Self.be(1, 4) + Self.be(1, 4) + [1] + Self.needle)])
        XCTAssertThrowsError(
            try PNGSanitizer.verify(
                hostile, original: original, originalStructure: try PNGStructure(parsing: original), orientation: nil,
                options: .init())
        ) { XCTAssertTrue("\($0)".contains("defined length"), "\($0)") }
    }

    // MARK: - WebP

    func testWebPICCPTextIsNotPublished() throws {
        let sticker = try Fixtures.sample("demo-sticker.webp")
        var body = Array(sticker[12..<30])
        body[8] |= 0x20
        body += WebPSanitizer.chunk("ICCP", Self.profile()) + Array(sticker[30...])
        let input = Array("RIFF".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: (body.count + 4) >> ($0 * 8)) }
            + Array("WEBP".utf8) + body
        Self.dump("iccp-text.webp", input)
        let clean = try Sanitizer.sanitize(input)
        assertClean(clean.output, "WebP ICCP")
        XCTAssertTrue(Self.contains(clean.output, Array("ICCP".utf8)))
        XCTAssertEqual(try Fingerprints.compute(input).presentedSHA256, try Fingerprints.compute(clean.output).presentedSHA256)
    }

    // MARK: - GIF

    func testGIFLoopExtensionsAreRebuiltAsTheirDefinedSubBlock() throws {
        let gif = try Fixtures.sample("demo-animation.gif")
        let at = try XCTUnwrap(Self.find(gif, Array("NETSCAPE2.0".utf8))) - 3
        // The loop sub-block (3, 1, count) is followed by the needle in two more sub-blocks.
        let extra = [UInt8(25)] + Array(Self.needle[0..<25]) + [UInt8(Self.needle.count - 25)] + Array(Self.needle[25...])
        let netscape = Array(gif[at..<(at + 18)]) + extra + [0]
        let animexts = [0x21, 0xFF, 0x0B] + Array("ANIMEXTS1.0".utf8) + [3, 1, 0, 0] + extra + [0]
        let input = Self.dump("loop-extension.gif", Array(gif[0..<at]) + netscape + animexts + Array(gif[(at + 19)...]))
        let clean = try Sanitizer.sanitize(input)
        assertClean(clean.output, "GIF loop extension")
        XCTAssertNotNil(Self.find(clean.output, Array("NETSCAPE2.0".utf8)))
        XCTAssertEqual(try Fingerprints.compute(gif).presentedSHA256, try Fingerprints.compute(
            Array(gif[0..<at]) + netscape + Array(gif[(at + 19)...])).presentedSHA256)
        XCTAssertEqual(try Fingerprints.compute(input).presentedSHA256, try Fingerprints.compute(clean.output).presentedSHA256)
    }

    static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    // MARK: - Video and HEIF

    func sanitizeFile(_ bytes: [UInt8], _ name: String) throws -> [UInt8] {
        Self.dump(name, bytes)
        let input = folder.appendingPathComponent("in-" + name)
        try Data(bytes).write(to: input)
        let output = folder.appendingPathComponent("out-" + name)
        let clean = try MediaFile(path: input.path).sanitize(to: output.path)
        try clean.pending?.commit()
        let written = Array(try Data(contentsOf: output))
        XCTAssertEqual(
            try MediaFile(path: input.path).fingerprints().presentedSHA256,
            try MediaFile(path: output.path).fingerprints().presentedSHA256, name)
        return written
    }

    static let media = [UInt8](repeating: 0x11, count: 4000)
    static let avcC: [UInt8] = [1, 0x64, 0, 0x0A, 0xFF, 0xE1, 0, 24, 0x67, 0x64, 0x00, 0x0A, 0xAC, 0xD9, 0x44, 0x7B, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x01, 0x40, 0xF1, 0x22, 0x59, 0x60, 1, 0, 2, 0x68, 0xEE]

    func testMovieBoxesLongerThanTheirFieldsAreShrunk() throws {
        let tracks: [SyntheticMovie.Track] = [.init(chunks: [0, 1000], sampleSize: 1000)]
        for type in ["stts", "stsc", "stsz", "stco", "tkhd", "mdhd", "mvhd", "vmhd", "elst", "stsd"] {
            let hostile = SyntheticMovie.movie(
                media: Self.media, tracks: tracks, edit: .append(type, [0, 0, 0, 0] + Self.needle))
            let output = try sanitizeFile(hostile, type + ".mp4")
            assertClean(output, "MP4 \(type)")
            XCTAssertLessThan(output.count, hostile.count, "rewritten without the bytes after the fields")
        }
        // Too few bytes after the fields for a free box: refused.
        let tight = SyntheticMovie.movie(media: Self.media, tracks: tracks, edit: .append("stts", Array("MRN1".utf8)))
        XCTAssertThrowsError(try sanitizeFile(tight, "tight.mp4"))
    }

    func testSampleEntryChildrenAreSizedAndUnknownOnesBlanked() throws {
        let children =
            SyntheticISO.box("avcC", Self.avcC + Self.needle)
            + SyntheticISO.box("uuid", [UInt8](repeating: 0xAB, count: 16) + Self.needle)
            + SyntheticISO.box("btrt", Self.be(0, 12) + Self.needle)
            + SyntheticISO.box("colr", Array("nclx".utf8) + [0, 1, 0, 1, 0, 1, 0] + Self.needle)
        let tracks: [SyntheticMovie.Track] = [.init(chunks: [0, 1000], sampleSize: 1000, entryChildren: children)]
        let output = try sanitizeFile(SyntheticMovie.movie(media: Self.media, tracks: tracks), "entry.mp4")
        assertClean(output, "MP4 sample entry children")
        XCTAssertNotNil(Self.find(output, Self.avcC))
    }

    func testVerifierRefusesAMovieBoxLongerThanItsFields() throws {
        let tracks: [SyntheticMovie.Track] = [.init(chunks: [0, 1000], sampleSize: 1000)]
        let hostile = SyntheticMovie.movie(media: Self.media, tracks: tracks, edit: .append("stts", [0, 0, 0, 0] + Self.needle))
        let path = folder.appendingPathComponent("verify.mp4")
        try Data(hostile).write(to: path)
        let content = try MediaFile(path: path.path).fingerprints().presentedSHA256 ?? ""
        XCTAssertThrowsError(try ISOSanitizer.verify(path: path.path, size: hostile.count, expectedContent: content)) {
            XCTAssertTrue("\($0)".contains("defined size"), "\($0)")
        }
    }

    func testHEIFPropertiesAreRebuiltAtTheirDefinedSizes() throws {
        let data = [UInt8](repeating: 0x22, count: 256)
        let properties = [
            SyntheticISO.full("ispe", Self.be(640, 4) + Self.be(480, 4) + Self.needle),
            SyntheticISO.full("pixi", [3, 8, 8, 8] + Self.needle),
            SyntheticISO.box("irot", [1] + Self.needle),
            SyntheticISO.box("colr", Array("prof".utf8) + Self.profile()),
        ]
        let file = SyntheticHEIF.file(data: data, items: [(1, "j2k1", [(0, 64)])], properties: properties)
        let output = try sanitizeFile(file, "props.heic")
        assertClean(output, "HEIF properties")
    }

    // MARK: - Memory

    func testStructureCountsAreBounded() throws {
        let photo = try Fixtures.sample("demo-camera-photo.jpg")
        let app5 = [UInt8]([0xFF, 0xE5, 0, 2])
        var many = Array(photo[0..<2])
        for _ in 0..<70_000 { many += app5 }
        many += photo[2...]
        XCTAssertThrowsError(try Sanitizer.sanitize(many)) { XCTAssertTrue("\($0)".contains("too many segments"), "\($0)") }
        // Under the limit: published, and the removed list says how many without a line for each.
        var fewer = Array(photo[0..<2])
        for _ in 0..<60_000 { fewer += app5 }
        fewer += photo[2...]
        let clean = try Sanitizer.sanitize(fewer)
        XCTAssertLessThan(clean.removed.count, 100)
        XCTAssertTrue(clean.removed.contains { $0.contains("59980 more APP5") }, "\(clean.removed.suffix(3))")

        let png = try Fixtures.sample("demo-screenshot.png")
        let text = PNGSanitizer.chunk("tEXt", [0x61, 0])
        var chunks = Array(png[0..<33])
        chunks.reserveCapacity(png.count + 100_001 * text.count)
        for _ in 0..<100_001 { chunks += text }
        chunks += png[33...]
        XCTAssertThrowsError(try Sanitizer.sanitize(chunks)) { XCTAssertTrue("\($0)".contains("too many chunks"), "\($0)") }

        let gif = try Fixtures.sample("demo-animation.gif")
        let at = try XCTUnwrap(Self.find(gif, Array("NETSCAPE2.0".utf8))) - 3
        var blocks = Array(gif[0..<at])
        for _ in 0..<100_001 { blocks += [0x21, 0xFE, 0] }
        blocks += gif[at...]
        XCTAssertThrowsError(try Sanitizer.sanitize(blocks)) { XCTAssertTrue("\($0)".contains("too many blocks"), "\($0)") }
    }
}
