import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Short, truncated, zero-length and oversized structures in every format, built here byte by byte, and a bounded
/// mutation loop over real files. Every entry point (inspect, fingerprints, sanitize with its verification) must
/// return a result or a typed error: a trap (a slice out of range, an overflow) ends the test process, so these
/// tests fail by crashing on the code they guard against.
final class HostileInputTests: XCTestCase {
    // MARK: - Byte builders

    static func be(_ value: Int, _ width: Int) -> [UInt8] {
        (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    static func le(_ value: Int, _ width: Int) -> [UInt8] {
        (0..<width).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    /// A JPEG marker segment: marker, two length bytes, payload.
    static func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0xFF, marker] + be(payload.count + 2, 2) + payload
    }

    /// The demo camera photo with `segments` inserted right after SOI.
    static func jpeg(inserting segments: [[UInt8]]) throws -> [UInt8] {
        let photo = try Fixtures.sample("demo-camera-photo.jpg")
        return Array(photo[0..<2]) + segments.flatMap { $0 } + Array(photo[2...])
    }

    /// Runs the in-memory entry points; returns the sanitized output when sanitizing succeeded.
    @discardableResult
    static func exercise(_ bytes: [UInt8]) -> [UInt8]? {
        let report = Inspector.inspect(bytes)
        _ = try? Fingerprints.compute(bytes)
        guard let clean = try? Sanitizer.sanitize(bytes) else { return nil }
        // What passed verification must read back cleanly.
        XCTAssertNil(Inspector.inspect(clean.output).error, "sanitized output of a \(report.format) does not read back")
        return clean.output
    }

    /// Runs the file entry points (MediaFile: fingerprints, inspect, sanitize into a temporary file).
    static func exerciseFile(_ bytes: [UInt8], in folder: URL) throws -> Result<SanitizedFile, MediaError> {
        let input = folder.appendingPathComponent("in-" + UUID().uuidString)
        try Data(bytes).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let file: MediaFile
        do { file = try MediaFile(path: input.path) } catch { return .failure(error) }
        _ = try? file.fingerprints()
        _ = file.inspect()
        do {
            let clean = try file.sanitize(to: folder.appendingPathComponent("out").path)
            clean.pending?.discard()
            return .success(clean)
        } catch {
            return .failure(error)
        }
    }

    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    // MARK: - JPEG

    /// Issue #9, point 3: an APP1 segment holding only "Exif\0" trapped the sanitizer and the inspector.
    func testExifSegmentsShorterThanTheirHeaderAreDroppedNotATrap() throws {
        let tiffHeader: [UInt8] = [0x00] + Array("MM".utf8) + [0x00, 0x2A, 0x00, 0x00, 0x00, 0x08]
        for length in 0...tiffHeader.count {
            let bytes = try Self.jpeg(inserting: [Self.segment(0xE1, Array("Exif\0".utf8) + tiffHeader.prefix(length))])
            let output = try XCTUnwrap(Self.exercise(bytes), "Exif\\0 + \(length) bytes: a bad EXIF block is dropped")
            // At most the rebuilt Orientation block (from the photo's own EXIF), never the stub.
            let exif = try JPEGStructure(parsing: output).segments.filter { $0.kind == .exif }
            XCTAssertLessThanOrEqual(exif.count, 1)
            XCTAssertFalse(exif.contains { $0.payload.count == 5 + length })
            XCTAssertEqual(Inspector.inspect(bytes).error, nil)
            if case .failure(let error) = try Self.exerciseFile(bytes, in: folder) { XCTFail("\(length): \(error)") }
        }
    }

    func testTinyICCPhotoshopAndVendorSegments() throws {
        var variants: [[UInt8]] = []
        // ICC with no sequence bytes, one of them, or a zero count.
        for tail in [[], [1], [1, 1], [0, 0], [1, 1, 0x00]] as [[UInt8]] {
            variants.append(Self.segment(0xE2, Array("ICC_PROFILE\0".utf8) + tail))
        }
        // Photoshop resources with lengths that run past the segment, an odd name length, and IPTC lengths at
        // every boundary (0, past the end, the extended-length bit).
        let photoshop = Array("Photoshop 3.0\0".utf8)
        let bim = Array("8BIM".utf8)
        variants += [
            photoshop,
            photoshop + bim,
            photoshop + bim + [0x04, 0x04, 0xFF],
            photoshop + bim + [0x04, 0x04, 0x00, 0x00] + Self.be(0xFFFF_FFFF, 4),
            photoshop + bim + [0x04, 0x04, 0x05, 0x41, 0x41, 0x41, 0x41, 0x41] + Self.be(4, 4) + [0x1C, 2, 0x78, 0xFF],
            photoshop + bim + [0x04, 0x04, 0x00, 0x00] + Self.be(5, 4) + [0x1C, 2, 0x78, 0x00, 0x09],
            photoshop + bim + [0x04, 0x04, 0x00, 0x00] + Self.be(5, 4) + [0x1C, 2, 0x78, 0x80, 0x04],
            photoshop + bim + [0x04, 0x04, 0x00, 0x00] + Self.be(5, 4) + [0x1C, 2, 0x78, 0x00, 0x00],
        ].map { Self.segment(0xED, $0) }
        // JFIF shorter than its fields, an MPF and XMP header with nothing after, a bare COM.
        variants += [
            Self.segment(0xE0, Array("JFIF\0".utf8)), Self.segment(0xE0, Array("JFXX\0".utf8)),
            Self.segment(0xE2, Array("MPF\0".utf8)), Self.segment(0xE1, Array("http://ns.adobe.com/xap/1.0/\0".utf8)),
            Self.segment(0xFE, []), Self.segment(0xEF, []),
        ]
        for variant in variants {
            let bytes = try Self.jpeg(inserting: [variant])
            XCTAssertNotNil(Self.exercise(bytes), "segment \(variant.prefix(20)) is dropped, the picture published")
        }
    }

    /// Issue #9, point 7: APP14 is kept only as Adobe's 12-byte segment, rebuilt from its fields.
    func testAdobeSegmentIsRebuiltFromItsTwelveBytesOnly() throws {
        let fields: [UInt8] = Array("Adobe".utf8) + [0x00, 0x64, 0x80, 0x00, 0x00, 0x00, 0x01]
        let hidden = Array("PATIENT-ID-0042 lives at 7 Elm St".utf8)
        func adobeSegments(_ output: [UInt8]) throws -> [[UInt8]] {
            try JPEGStructure(parsing: output).segments.filter { $0.kind == .adobe }.map { Array(output[$0.payload]) }
        }
        // Longer than standard: rebuilt from the first 12 bytes, the rest never copied.
        let long = try Self.jpeg(inserting: [Self.segment(0xEE, fields + hidden)])
        XCTAssertTrue(Inspector.inspect(long).metadata.contains { $0.family == "APP14" })
        let clean = try Sanitizer.sanitize(long)
        XCTAssertEqual(try adobeSegments(clean.output), [fields])
        XCTAssertNil(String(decoding: clean.output, as: UTF8.self).range(of: "PATIENT"))
        XCTAssertTrue(clean.removed.contains { $0.contains("after the Adobe fields") }, "\(clean.removed)")
        // Shorter than standard: decoders ignore it, so it goes.
        let short = try Self.jpeg(inserting: [Self.segment(0xEE, Array(fields.prefix(9)))])
        XCTAssertEqual(try adobeSegments(Sanitizer.sanitize(short).output), [])
        // Several: only the last before the first scan (the one libjpeg uses) stays.
        var other = fields
        other[11] = 2
        let several = try Self.jpeg(inserting: [Self.segment(0xEE, fields), Self.segment(0xEE, other + hidden)])
        XCTAssertEqual(try adobeSegments(Sanitizer.sanitize(several).output), [other])
        // The standard one is unchanged, byte for byte.
        let standard = try Self.jpeg(inserting: [Self.segment(0xEE, fields)])
        XCTAssertEqual(try adobeSegments(Sanitizer.sanitize(standard).output), [fields])
        // The verifier refuses an output holding a long one.
        let structure = try JPEGStructure(parsing: long)
        XCTAssertThrowsError(
            try JPEGSanitizer.verify(
                long, original: long, originalStructure: structure, orientation: nil, options: .init())
        ) { error in
            XCTAssertTrue("\(error)".contains("APP14") || "\(error)".contains("left in the output"), "\(error)")
        }
    }

    func testYCCKPrintKeepsItsAdobeTransform() throws {
        let bytes = try Fixtures.sample("demo-ycck-print.jpg")
        let clean = try Sanitizer.sanitize(bytes, options: .init(verifyDecode: true))
        let adobe = try JPEGStructure(parsing: clean.output).segments.filter { $0.kind == .adobe }
        XCTAssertEqual(adobe.map(\.payload.count), [12])
    }

    // MARK: - PNG, WebP, GIF

    static func pngChunk(_ type: String, _ data: [UInt8], length: Int? = nil) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be(length ?? data.count, 4) + body + be(Int(crc32(body)), 4)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    func testPNGChunksWithImpossibleLengthsAndTinyPayloads() throws {
        let png = try Fixtures.sample("demo-screenshot.png")
        let afterIHDR = 8 + 25
        func inserting(_ chunk: [UInt8]) -> [UInt8] { Array(png[0..<afterIHDR]) + chunk + Array(png[afterIHDR...]) }
        for length in [0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, png.count] {
            let bytes = inserting(Self.pngChunk("tEXt", Array("a\0b".utf8), length: length))
            XCTAssertThrowsError(try PNGStructure(parsing: bytes), "length \(length)")
            Self.exercise(bytes)
        }
        var payloads: [(String, [UInt8])] = []
        for type in ["eXIf", "iTXt", "zTXt", "tEXt", "iCCP", "tIME", "prVt"] {
            for count in 0..<10 {
                payloads.append((type, Array([0xFF, 0x00, 0x4D, 0x4D, 0x00, 0x2A, 0xFF, 0, 0, 8].prefix(count))))
            }
        }
        // iTXt whose keyword is not UTF-8 (its decoded text is longer than its bytes).
        payloads.append(("iTXt", [0xFF, 0xFE, 0xFD, 0x00, 0x01]))
        payloads.append(("iCCP", Array("icc\0\0".utf8) + [0x78, 0x9C]))
        for (type, data) in payloads {
            XCTAssertNotNil(Self.exercise(inserting(Self.pngChunk(type, data))), "\(type) \(data)")
        }
        // A zero-length IHDR, and the signature alone.
        Self.exercise(PNGStructure.signature + Self.pngChunk("IHDR", []) + Array(png[afterIHDR...]))
        Self.exercise(PNGStructure.signature)
    }

    func testWebPChunkSizesPastTheEnd() throws {
        func riff(_ chunks: [UInt8], size: Int? = nil) -> [UInt8] {
            Array("RIFF".utf8) + Self.le(size ?? chunks.count + 4, 4) + Array("WEBP".utf8) + chunks
        }
        func chunk(_ fourCC: String, _ payload: [UInt8], size: Int? = nil) -> [UInt8] {
            Array(fourCC.utf8) + Self.le(size ?? payload.count, 4) + payload + (payload.count % 2 == 1 ? [0] : [])
        }
        let vp8 = chunk("VP8L", [0x2F, 0, 0, 0, 0])
        let variants: [[UInt8]] = [
            riff([], size: 0xFFFF_FFFF), riff([], size: 0), riff(vp8, size: 3),
            riff(chunk("VP8X", [], size: 0xFFFF_FFF0)), riff(chunk("VP8X", []) + vp8),
            riff(chunk("VP8X", [0x08]) + vp8),
            riff(chunk("VP8X", [UInt8](repeating: 0, count: 10)) + chunk("EXIF", []) + vp8),
            riff(chunk("VP8X", [UInt8](repeating: 0, count: 10)) + chunk("EXIF", Array("Exif\0\0".utf8)) + vp8),
            riff(
                chunk("VP8X", [0x02] + [UInt8](repeating: 0, count: 9)) + chunk("ANIM", [0, 0])
                    + chunk("ANMF", [1, 2, 3])),
            riff(
                chunk("VP8X", [0x02] + [UInt8](repeating: 0, count: 9))
                    + chunk("ANMF", [UInt8](repeating: 0, count: 16))),
            riff(
                chunk("VP8X", [0x02] + [UInt8](repeating: 0, count: 9))
                    + chunk("ANMF", [UInt8](repeating: 0, count: 16) + chunk("VP8L", [0x2F], size: 0x7FFF_FFFF))),
            riff(vp8 + chunk("ICCP", [], size: 0xFFFF_FFFF)),
        ]
        for variant in variants { Self.exercise(variant) }
        let sticker = try Fixtures.sample("demo-sticker.webp")
        XCTAssertNotNil(Self.exercise(sticker))
    }

    func testGIFSubBlockChains() throws {
        let gif = try Fixtures.sample("demo-animation.gif")
        let screen = try GIFStructure(parsing: gif).blocks[0].range.upperBound
        func inserting(_ block: [UInt8]) -> [UInt8] { Array(gif[0..<screen]) + block + Array(gif[screen...]) }
        let variants: [[UInt8]] = [
            inserting([0x21, 0xFE]),  // a comment with no sub-blocks and no terminator
            inserting([0x21, 0xFE, 0xFF, 0x41]),  // a sub-block longer than the file
            inserting([0x21, 0xFE, 0x03, 0x41, 0x41, 0x41, 0x00]),
            inserting([0x21, 0xFF, 0x0B] + Array("NETSCAPE2.0".utf8)),  // cut off after its identifier
            inserting([0x21, 0xFF, 0x03] + Array("XMP".utf8) + [0x00]),  // identifier of the wrong length
            inserting([0x21, 0xFF, 0x0B]),
            inserting([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0x87]),  // an image descriptor whose colour table is missing
            inserting([0x2C, 0, 0, 0, 0, 1, 0, 1, 0]),
            Array(gif[0..<13]), Array(gif[0..<6]) + [0, 0, 0, 0, 0x87, 0, 0],
        ]
        for variant in variants { Self.exercise(variant) }
        // A comment made of many empty-terminated chains is still dropped and the picture published.
        let chained = inserting([0x21, 0xFE] + [UInt8](repeating: 0x01, count: 2) + [0x41, 0x00])
        XCTAssertNotNil(Self.exercise(chained))
    }

    // MARK: - ISO-BMFF

    func testISOBoxSizesAndTruncatedFullBoxes() throws {
        typealias M = SyntheticMovie
        let media = [UInt8](repeating: 0x11, count: 4000)
        let good = M.movie(media: media, tracks: [.init(chunks: [0, 2000], sampleSize: 2000)])
        guard case .success = try Self.exerciseFile(good, in: folder) else {
            return XCTFail("the synthetic movie itself must be publishable")
        }
        var variants: [[UInt8]] = []
        // Sizes 1 (a 64-bit size follows, or is cut off), 0 (to the end), 8 (empty), huge, and less than a header.
        for size in [1, 0, 8, 7, 0x7FFF_FFFF, 0xFFFF_FFFF] {
            variants.append(good + Self.be(size, 4) + Array("free".utf8))
            variants.append(good + Self.be(size, 4) + Array("moov".utf8) + Self.be(0xFFFF_FFFF_FFFF, 8))
        }
        variants.append(good + [0, 0, 0, 1] + Array("mdat".utf8) + Self.be(Int.max, 8))
        variants.append(good + [0, 0, 0, 1] + Array("mdat".utf8) + [0xFF] + Self.be(0, 7))
        // Every table and full box with its payload cut to each length from 0 to 24 bytes.
        for type in ["mvhd", "tkhd", "mdhd", "hdlr", "stsd", "stsc", "stsz", "stco", "dref", "elst", "tref"] {
            for keep in 0...24 {
                variants.append(
                    M.movie(
                        media: media, tracks: [.init(chunks: [0, 2000], sampleSize: 2000)], truncating: type, to: keep))
            }
        }
        variants.append(
            M.movie(media: media, tracks: [.init(chunks: [0, 2000], sampleSize: 2000)], count: "stsd", as: -1))
        for variant in variants { _ = try Self.exerciseFile(variant, in: folder) }
        // Counts larger than their box, sample sizes whose product overflows, chunks outside the media data.
        var refused: [[UInt8]] = []
        for (type, count) in [("stco", 0x7FFF_FFFF), ("stsz", 0xFFFF_FFFF), ("stsc", 0x1000_0000)] {
            refused.append(
                M.movie(media: media, tracks: [.init(chunks: [0, 2000], sampleSize: 2000)], count: type, as: count))
        }
        refused.append(
            M.movie(media: media, tracks: [.init(chunks: [0], sampleSize: 0x7FFF_FFFF, samplesPerChunk: 0x7FFF_FFFF)]))
        refused.append(M.movie(media: media, tracks: [.init(chunks: [3999], sampleSize: 2)]))
        refused.append(M.movie(media: media, tracks: [.init(chunks: [-40], sampleSize: 2)]))
        for (index, variant) in refused.enumerated() {
            if case .success = try Self.exerciseFile(variant, in: folder) {
                XCTFail("damaged table \(index) was accepted")
            }
        }
    }

    func testHEIFItemLocationsOverlappingOrInNumbersTheTableCannotHold() throws {
        typealias H = SyntheticHEIF
        let data = [UInt8](repeating: 0x22, count: 3000)
        let good = H.file(data: data, items: [(1, "j2k1", [(0, 1000)]), (2, "j2k1", [(1000, 1000)])])
        guard case .success = try Self.exerciseFile(good, in: folder) else {
            return XCTFail("the synthetic HEIF itself must be publishable")
        }
        // Two pictures over the same bytes, and one picture naming its bytes twice.
        for items in [
            [(1, "j2k1", [(0, 1000)]), (2, "j2k1", [(500, 1000)])],
            [(1, "j2k1", [(0, 1000), (0, 1000)])],
            [(1, "j2k1", [(0, 1000)]), (2, "Exif", [(999, 10)])],
        ] as [[(Int, String, [(Int, Int)])]] {
            let result = try Self.exerciseFile(H.file(data: data, items: items), in: folder)
            guard case .failure(let error) = result else { return XCTFail("\(items) was accepted") }
            XCTAssertTrue("\(error)".contains("overlap"), "\(error)")
        }
        // 65,535 zero-width extents (each "the whole file") in a table of a few dozen bytes.
        let bomb = H.file(data: data, items: [(1, "j2k1", [(0, 1000)])], zeroWidthExtents: 65_535)
        let started = Date()
        let result = try Self.exerciseFile(bomb, in: folder)
        guard case .failure(let error) = result else { return XCTFail("the extent bomb was accepted") }
        XCTAssertTrue("\(error)".contains("extents"), "\(error)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        // Truncated iloc, iinf, pitm, ipma and iref boxes, and second copies of them.
        for type in ["iloc", "iinf", "pitm", "ipma", "iref", "infe", "hdlr"] {
            for keep in 0...12 {
                _ = try Self.exerciseFile(
                    H.file(data: data, items: [(1, "j2k1", [(0, 1000)])], truncating: type, to: keep), in: folder)
            }
        }
        for type in ["iloc", "iref", "iinf", "idat", "pitm"] {
            let twice = H.file(data: data, items: [(1, "j2k1", [(0, 1000)])], duplicating: type)
            guard case .failure(let error) = try Self.exerciseFile(twice, in: folder) else {
                XCTFail("a second \(type) was accepted")
                continue
            }
            XCTAssertTrue("\(error)".contains("two \(type)"), "\(error)")
        }
    }

    // MARK: - Mutations of real files

    /// Random byte flips, truncations, insertions and "interesting" 32-bit values over real files, through every
    /// entry point, for a bounded time. `CG_MUTATION_SECONDS` runs it longer (the suite's default is a few seconds).
    func testMutatedRealFilesNeverTrap() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["CG_MUTATION_SECONDS"] ?? "") ?? 4
        var pictures = try [
            "demo-camera-photo.jpg", "demo-phone-photo.jpg", "demo-ycck-print.jpg", "demo-screenshot.png",
            "demo-sticker.webp", "demo-animation.gif",
        ].map { try Fixtures.sample($0) }
        var movies = try ["demo-clip.mp4", "demo-phone-photo.heic"].map { try Fixtures.sample($0) }
        if let corpus = try? Fixtures.requireCorpus() {
            for name in [
                "pillow__multiple_exif.jpg", "pillow__iptc.jpg", "exiftool__GoPro.jpg", "mei__Photoshop_3_.jpg",
                "pillow__itxt_chunks.png", "pillow__flower.webp", "exiftool__QuickTime.mov", "mei__sample.3gp",
                "pillow__exif.avif",
            ] {
                guard let bytes = try? Fixtures.bytes(corpus.appendingPathComponent(name)) else { continue }
                if MediaFormat.sniff(bytes).isISOBMFF { movies.append(bytes) } else { pictures.append(bytes) }
            }
        }
        var generator = SplitMix(seed: UInt64(ProcessInfo.processInfo.environment["CG_MUTATION_SEED"] ?? "") ?? 9)
        var counts = (pictures: 0, movies: 0, published: 0)
        let pictureDeadline = Date().addingTimeInterval(seconds / 2)
        while Date() < pictureDeadline {
            let original = pictures[Int(generator.next() % UInt64(pictures.count))]
            if Self.exercise(Self.mutate(original, &generator)) != nil { counts.published += 1 }
            counts.pictures += 1
        }
        let movieDeadline = Date().addingTimeInterval(seconds / 2)
        while Date() < movieDeadline {
            let original = movies[Int(generator.next() % UInt64(movies.count))]
            if case .success = try Self.exerciseFile(Self.mutate(original, &generator), in: folder) {
                counts.published += 1
            }
            counts.movies += 1
        }
        print("mutation loop: \(counts.pictures) pictures, \(counts.movies) movies, \(counts.published) published")
        XCTAssertGreaterThan(counts.pictures, 100)
        XCTAssertGreaterThan(counts.movies, 20)
        XCTAssertGreaterThan(counts.published, 0, "some mutations only touch coded data and are still publishable")
    }
}
