import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// HEIF pictures published by role: the primary item and what it needs to be shown (grid tiles, alpha), every other
/// picture dropped with its data; metadata NAL units out of the kept items' data.
final class HEIFRoleTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    static let needle = Array("Jane Doe MRN 12345".utf8)
    typealias I = SyntheticISO

    /// A HEIF with items (id, type, data), properties (whole boxes), associations (item, property numbers) and
    /// references (type, from, to); the primary is item 1.
    static func graph(
        items: [(id: Int, type: String, data: [UInt8])], properties: [[UInt8]], associations: [(Int, [Int])],
        references: [(String, Int, [Int])], fileType: [UInt8] = SyntheticHEIF.fileType
    ) -> [UInt8] {
        func meta(_ mediaOffset: Int) -> [UInt8] {
            var iloc: [UInt8] = [0x44, 0x00] + I.be(items.count, 2)
            var at = mediaOffset
            for item in items {
                iloc += I.be(item.id, 2) + I.be(0, 2) + I.be(0, 2) + I.be(1, 2) + I.be(at, 4) + I.be(item.data.count, 4)
                at += item.data.count
            }
            let infes = items.flatMap {
                I.full("infe", I.be($0.id, 2) + I.zeros(2) + Array($0.type.utf8) + [0], version: 2)
            }
            var ipma = I.be(associations.count, 4)
            for (id, numbers) in associations {
                ipma += I.be(id, 2) + [UInt8(numbers.count)] + numbers.map { UInt8($0) }
            }
            var iref: [UInt8] = []
            for (type, from, to) in references {
                let entry = Array(type.utf8) + I.be(from, 2) + I.be(to.count, 2) + to.flatMap { I.be($0, 2) }
                iref += I.be(entry.count + 4, 4) + entry
            }
            return I.full(
                "meta",
                I.full("hdlr", I.zeros(4) + Array("pict".utf8) + I.zeros(12) + [0]) + I.full("pitm", I.be(1, 2))
                    + I.full("iloc", iloc, version: 1) + I.full("iinf", I.be(items.count, 2) + infes)
                    + (references.isEmpty ? [] : I.full("iref", iref))
                    + I.box("iprp", I.box("ipco", properties.flatMap { $0 }) + I.full("ipma", ipma)))
        }
        let offset = fileType.count + meta(0).count + 8
        return fileType + meta(offset) + I.box("mdat", items.flatMap(\.data))
    }

    static func auxC(_ urn: String) -> [UInt8] { I.full("auxC", Array(urn.utf8) + [0]) }
    static let ispe = I.full("ispe", I.be(64, 4) + I.be(48, 4))

    func sanitize(_ bytes: [UInt8], _ name: String) throws -> (output: [UInt8], removed: [String], media: ISOMedia) {
        let input = folder.appendingPathComponent(name)
        try Data(bytes).write(to: input)
        let output = folder.appendingPathComponent("clean-" + name)
        let result = try MediaFile(path: input.path).sanitize(to: output.path)
        try result.pending?.commit()
        XCTAssertEqual(
            try MediaFile(path: input.path).fingerprints().presentedSHA256,
            try MediaFile(path: output.path).fingerprints().presentedSHA256, name)
        return (try Fixtures.bytes(output), result.removed, try ISOMedia(source: try FileSource(path: output.path)))
    }

    func picture(_ tag: UInt8) -> [UInt8] { [UInt8](repeating: tag, count: 40) }
    func hidden(_ tag: UInt8) -> [UInt8] { [UInt8](repeating: tag, count: 8) + HEIFRoleTests.needle + [tag] }

    /// Depth (standard and Apple URNs), mattes, gain maps, a thumbnail and other top-level pictures go with their
    /// data; the grid's tiles and the alpha plane stay. Chosen by URN: an alpha-looking label is not enough.
    func testOnlyThePrimaryItsTilesAndItsAlphaAreKept() throws {
        let urns = [
            "urn:mpeg:hevc:2015:auxid:2", "urn:com:apple:photo:2020:aux:portraiteffectsmatte",
            "urn:com:apple:photo:2020:aux:semanticskinmatte", "urn:com:apple:photo:2020:aux:semantichairmatte",
            "urn:com:apple:photo:2020:aux:hdrgainmap", "urn:example:not-quite-alpha",
        ]
        var items: [(id: Int, type: String, data: [UInt8])] = [
            (1, "grid", [0, 0, 0, 0, 0, 63, 0, 47]), (2, "j2k1", picture(2)), (3, "j2k1", picture(3)),
            (4, "j2k1", picture(4)),  // alpha of the grid
            (5, "j2k1", hidden(5)),  // thumbnail
            (6, "j2k1", hidden(6)),  // another top-level picture (a burst frame)
            (7, "tmap", hidden(7)),  // ISO gain map
            (8, "j2k1", hidden(8)),  // tile used only by the gain map
        ]
        var properties = [HEIFRoleTests.ispe, HEIFRoleTests.auxC("urn:mpeg:mpegB:cicp:systems:auxiliary:alpha")]
        var associations: [(Int, [Int])] = [(1, [1]), (2, [1]), (3, [1]), (4, [1, 2]), (5, [1]), (6, [1]), (7, [1])]
        var references: [(String, Int, [Int])] = [
            ("dimg", 1, [2, 3]), ("auxl", 4, [1]), ("thmb", 5, [1]), ("dimg", 7, [1, 8]),
        ]
        for (offset, urn) in urns.enumerated() {
            let id = 10 + offset
            items.append((id, "j2k1", hidden(UInt8(id))))
            properties.append(HEIFRoleTests.auxC(urn))
            associations.append((id, [1, properties.count]))
            references.append(("auxl", id, [1]))
        }
        let file = HEIFRoleTests.graph(
            items: items, properties: properties, associations: associations, references: references)
        let clean = try sanitize(file, "roles.heic")
        XCTAssertNil(clean.output.firstRange(of: HEIFRoleTests.needle), "a hidden picture is published")
        let heif = try XCTUnwrap(clean.media.heif)
        XCTAssertEqual(heif.items.map(\.id).sorted(), [1, 2, 3, 4])
        XCTAssertEqual(
            heif.references.map { String(decoding: $0.type, as: UTF8.self) + "\($0.from)>\($0.to)" }.sorted(),
            ["auxl4>[1]", "dimg1>[2, 3]"])
        for tag: UInt8 in [2, 3, 4] { XCTAssertNotNil(clean.output.firstRange(of: picture(tag)), "item \(tag)") }
        for role in [
            "thumbnail", "HDR gain map", "depth map", "matte", "picture other than the primary",
            "auxiliary image urn:example:not-quite-alpha",
        ] {
            XCTAssertTrue(clean.removed.contains { $0.contains(role) }, "\(role) not in \(clean.removed)")
        }
        // A primary derived from something that is not a picture is refused.
        let broken = HEIFRoleTests.graph(
            items: [(1, "grid", [0, 0, 0, 0, 0, 63, 0, 47]), (2, "Exif", picture(2))], properties: [HEIFRoleTests.ispe],
            associations: [(1, [1])], references: [("dimg", 1, [2])])
        let input = folder.appendingPathComponent("broken.heic")
        try Data(broken).write(to: input)
        XCTAssertThrowsError(try MediaFile(path: input.path).sanitize(to: folder.appendingPathComponent("x.heic").path))
    }

    /// An idat range no item uses is zeroed.
    func testUnusedIdatBytesAreZeroed() throws {
        // Item 1 (grid) in idat, construction method 1, at offset 0, 8 bytes; the idat holds the needle after it.
        let tiles = picture(2)
        let grid: [UInt8] = [0, 0, 0, 0, 0, 63, 0, 47]
        func meta(_ mediaOffset: Int) -> [UInt8] {
            var iloc: [UInt8] = [0x44, 0x00] + I.be(2, 2)
            iloc += I.be(1, 2) + I.be(1, 2) + I.be(0, 2) + I.be(1, 2) + I.be(0, 4) + I.be(grid.count, 4)
            iloc += I.be(2, 2) + I.be(0, 2) + I.be(0, 2) + I.be(1, 2) + I.be(mediaOffset, 4) + I.be(tiles.count, 4)
            let infes =
                I.full("infe", I.be(1, 2) + I.zeros(2) + Array("grid".utf8) + [0], version: 2)
                + I.full("infe", I.be(2, 2) + I.zeros(2) + Array("j2k1".utf8) + [0], version: 2)
            let iref = I.be(14, 4) + Array("dimg".utf8) + I.be(1, 2) + I.be(1, 2) + I.be(2, 2)
            return I.full(
                "meta",
                I.full("hdlr", I.zeros(4) + Array("pict".utf8) + I.zeros(12) + [0]) + I.full("pitm", I.be(1, 2))
                    + I.full("iloc", iloc, version: 1) + I.full("iinf", I.be(2, 2) + infes) + I.full("iref", iref)
                    + I.box(
                        "iprp",
                        I.box("ipco", HEIFRoleTests.ispe)
                            + I.full("ipma", I.be(2, 4) + I.be(1, 2) + [1, 1] + I.be(2, 2) + [1, 1]))
                    + I.box("idat", grid + HEIFRoleTests.needle))
        }
        let offset = SyntheticHEIF.fileType.count + meta(0).count + 8
        let file = SyntheticHEIF.fileType + meta(offset) + I.box("mdat", tiles)
        let clean = try sanitize(file, "idat.heic")
        XCTAssertNil(clean.output.firstRange(of: HEIFRoleTests.needle))
        XCTAssertNotNil(clean.output.firstRange(of: grid + [UInt8](repeating: 0, count: HEIFRoleTests.needle.count)))
    }
}

/// Metadata inside a HEIC item's coded data, and real files with a thumbnail, alpha and a second picture.
extension HEIFRoleTests {
    /// heif-enc's picture of `size`, written to `name` (extra arguments before the input).
    func encoded(_ name: String, _ arguments: [String] = [], filter: String = "testsrc=size=128x96") throws -> URL {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let encoder = try Fixtures.requireTool("heif-enc")
        let png = folder.appendingPathComponent(name + ".png")
        let made = try Fixtures.run(
            ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", filter, "-frames:v", "1", png.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let output = folder.appendingPathComponent(name)
        let run = try Fixtures.run(encoder, ["-q", "50"] + arguments + [png.path, "-o", output.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        return output
    }

    /// Each image heif-convert writes (primary, or every top-level one), by name and SHA-256 of its pixels.
    func decoded(_ file: URL) throws -> [String] {
        let convert = try Fixtures.requireTool("heif-convert")
        let out = folder.appendingPathComponent("decoded-" + file.lastPathComponent, isDirectory: true)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let run = try Fixtures.run(
            convert, ["--quiet", "--with-aux", "--no-colons", file.path, out.appendingPathComponent("i.y4m").path])
        XCTAssertEqual(run.status, 0, run.stderr)
        return try FileManager.default.contentsOfDirectory(atPath: out.path).sorted().map {
            sha256Hex(try Fixtures.bytes(out.appendingPathComponent($0)))
        }
    }

    func testUserDataSEIInAHEICItemIsRemovedAndThePictureDecodesTheSame() throws {
        let plain = try encoded("plain.heic")
        var bytes = try Fixtures.bytes(plain)
        let media = try ISOMedia(source: try FileSource(path: plain.path))
        let heif = try XCTUnwrap(media.heif)
        let item = try XCTUnwrap(heif.items.first { $0.id == heif.primary })
        XCTAssertEqual(item.type, "hvc1")
        let extent = try XCTUnwrap(item.data.first)
        guard heif.items.count == 1, item.data.count == 1, extent.upperBound == bytes.count else {
            throw XCTSkip("heif-enc wrote another layout: one item at the end of the file is expected")
        }
        // A prefix SEI of user data (a UUID and the needle) before the slice, 4-byte length (heif-enc's hvcC).
        let sei =
            [0x4E, 0x01, 5, UInt8(16 + HEIFRoleTests.needle.count)] + [UInt8](repeating: 0xAB, count: 16)
            + HEIFRoleTests.needle + [0x80]
        let inserted = Bytes.put(sei.count, 4) + sei
        // The extent's length: the last 4 bytes of the item's iloc entry (heif-enc writes 4-byte lengths).
        let iloc = try XCTUnwrap(media.boxes.first { $0.type == "iloc" })
        let at = iloc.payload.lowerBound + item.ilocEntry!.upperBound - 4
        XCTAssertEqual(heif.ilocLayout.length, 4)
        XCTAssertEqual(Bytes.be(bytes, at, 4), extent.count)
        bytes.replaceSubrange(at..<(at + 4), with: Bytes.put(extent.count + inserted.count, 4))
        let mdat = try XCTUnwrap(media.boxes.first { $0.type == "mdat" })
        bytes.replaceSubrange(mdat.offset..<(mdat.offset + 4), with: Bytes.put(mdat.size + inserted.count, 4))
        bytes.insert(contentsOf: inserted, at: extent.lowerBound)
        let input = folder.appendingPathComponent("sei.heic")
        try Data(bytes).write(to: input)
        XCTAssertEqual(try decoded(input), try decoded(plain), "libheif reads the crafted file as the plain one")
        // inspect says so beside the item.
        XCTAssertTrue(
            try Inspector.inspect(path: input.path).structure.contains {
                $0.detail?.contains("inside its data removed") ?? false
            })
        // The verifier, reading the crafted file as if it were a written copy, finds the metadata in the item.
        XCTAssertThrowsError(try ISOSanitizer.verify(path: input.path, size: bytes.count, expectedContent: "")) {
            XCTAssertTrue("\($0)".contains("inside the data of HEIF item"), "\($0)")
        }

        let output = folder.appendingPathComponent("clean-sei.heic")
        let run = try DecodeOracle.strip(input, output)
        XCTAssertEqual(run.status, 0, run.output)
        let published = try Fixtures.bytes(output)
        XCTAssertNil(published.firstRange(of: HEIFRoleTests.needle), "the SEI user data is published")
        XCTAssertEqual(published.count, bytes.count)
        XCTAssertEqual(try decoded(output), try decoded(plain), "the primary decodes differently")
        XCTAssertEqual(
            try MediaFile(path: input.path).fingerprints().presentedSHA256,
            try MediaFile(path: output.path).fingerprints().presentedSHA256)
        // The published item is the plain item's data, at its old place, iloc saying its new length.
        let after = try XCTUnwrap(try ISOMedia(source: try FileSource(path: output.path)).heif?.items.first)
        XCTAssertEqual(after.data, [extent.lowerBound..<(extent.lowerBound + extent.count)])
    }

    /// A thumbnail and a second top-level picture are dropped with their data; the alpha plane stays and the primary
    /// (with its alpha) decodes the same.
    func testRealFilesKeepThePrimaryAndItsAlpha() throws {
        let alpha = try encoded(
            "alpha.heic", ["-t", "32"],
            filter: "testsrc=size=128x96,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='2*X'")
        let before = try XCTUnwrap(try ISOMedia(source: try FileSource(path: alpha.path)).heif)
        XCTAssertGreaterThanOrEqual(before.items.count, 4, "primary, alpha, thumbnail and its alpha")
        let output = folder.appendingPathComponent("clean-alpha.heic")
        XCTAssertEqual(try DecodeOracle.strip(alpha, output).status, 0)
        let after = try XCTUnwrap(try ISOMedia(source: try FileSource(path: output.path)).heif)
        XCTAssertEqual(after.items.count, 2, "the primary and its alpha plane: \(after.items.map(\.type))")
        XCTAssertEqual(try decoded(output), try decoded(alpha))

        // Two pictures in one file (a burst): only the primary is published, decoding as it did.
        let encoder = try Fixtures.requireTool("heif-enc")
        let first = try encoded("first.heic", filter: "testsrc=size=64x48")
        let second = try encoded("second.heic", filter: "smptebars=size=64x48")
        let two = folder.appendingPathComponent("two.heic")
        let run = try Fixtures.run(
            encoder,
            [
                "-q", "50", folder.appendingPathComponent("first.heic.png").path,
                folder.appendingPathComponent("second.heic.png").path, "-o", two.path,
            ])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try decoded(two).count, 2, "heif-convert writes both top-level pictures")
        let cleanTwo = folder.appendingPathComponent("clean-two.heic")
        XCTAssertEqual(try DecodeOracle.strip(two, cleanTwo).status, 0)
        XCTAssertEqual(try decoded(cleanTwo), try decoded(first), "the primary (the first picture) alone")
        XCTAssertNotEqual(try decoded(cleanTwo), try decoded(second))
    }
}

/// A HEIF `jpeg` item goes through the JPEG sanitizer.
extension HEIFRoleTests {
    func testAJPEGItemLosesItsEXIFAndDecodesTheSame() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let exiftool = try Fixtures.requireTool("exiftool")
        let djpeg = try Fixtures.requireTool("djpeg")
        let jpeg = folder.appendingPathComponent("item.jpg")
        let made = try Fixtures.run(
            ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", jpeg.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let tagged = try Fixtures.run(
            exiftool,
            [
                "-q", "-overwrite_original", "-GPSLatitude=51.5", "-GPSLatitudeRef=N", "-Artist=Jane Doe MRN 12345",
                jpeg.path,
            ])
        XCTAssertEqual(tagged.status, 0, tagged.stderr)
        let data = try Fixtures.bytes(jpeg)
        XCTAssertNotNil(data.firstRange(of: HEIFRoleTests.needle))
        let file = SyntheticHEIF.file(
            data: data, items: [(1, "jpeg", [(0, data.count)])], properties: [HEIFRoleTests.ispe])
        let clean = try sanitize(file, "jpeg.heif")
        XCTAssertNil(clean.output.firstRange(of: HEIFRoleTests.needle), "the JPEG item's EXIF is published")
        XCTAssertTrue(clean.removed.contains { $0.contains("HEIF item 1") }, "\(clean.removed)")
        let item = try XCTUnwrap(clean.media.heif?.items.first)
        let published = Array(clean.output[try XCTUnwrap(item.data.first)])
        XCTAssertLessThan(published.count, data.count)
        XCTAssertEqual(published, try JPEGHandler().sanitize(data, options: SanitizeOptions()).output)
        let publishedFile = folder.appendingPathComponent("published.jpg")
        try Data(published).write(to: publishedFile)
        let before = try Fixtures.run(djpeg, ["-pnm", jpeg.path])
        let after = try Fixtures.run(djpeg, ["-pnm", publishedFile.path])
        XCTAssertEqual(after.status, 0, after.stderr)
        XCTAssertEqual(before.stdout, after.stdout, "the JPEG item decodes differently")
    }
}
