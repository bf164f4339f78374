import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Issue 22 items 7 and 8 for JPEG: bytes no decoder reads (after the last block of a scan, before a restart marker,
/// in a table no scan uses) are not published, rows coded beyond the frame header's height are not published, and
/// a picture hidden under another scan is refused. libjpeg's decoded pixels are the oracle: they never change.
final class JPEGUnreadBytesTests: XCTestCase {
    static let needle = Array("Jane Doe MRN 12345".utf8)

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains {
            haystack[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }

    static func pixels(_ bytes: [UInt8]) throws -> String {
        try ImageCodec.decodeDigest(.jpeg, bytes, limits: .init()).pixelSHA256
    }

    /// `jpegtran` with `arguments` over the demo camera photo (lossless: the same pixels, other coding).
    static func transcoded(_ arguments: [String]) throws -> [UInt8] {
        let jpegtran = try Fixtures.requireTool("jpegtran")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in.jpg")
        let output = folder.appendingPathComponent("out.jpg")
        try Data(Fixtures.sample("demo-camera-photo.jpg")).write(to: input)
        let run = try Fixtures.run(jpegtran, arguments + ["-outfile", output.path, input.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        return try Fixtures.bytes(output)
    }

    /// `bytes` with `inserted` placed at the end of the data of scan number `scan` (before the marker after it).
    static func planting(_ inserted: [UInt8], in bytes: [UInt8], scan: Int) throws -> [UInt8] {
        let scans = try JPEGStructure(parsing: bytes).segments.filter { $0.kind == .scan }
        let end = try XCTUnwrap(scans[scan].scanData).upperBound
        return Array(bytes[..<end]) + inserted + Array(bytes[end...])
    }

    /// Sanitizes `planted` and checks the needle is gone, the pixels are the clean picture's, and the output is the
    /// one the clean picture gives (same coded bytes, same content_sha256).
    func assertTrimmed(_ planted: [UInt8], clean: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(Self.contains(planted, Self.needle), file: file, line: line)
        XCTAssertEqual(
            try Self.pixels(planted), try Self.pixels(clean), "the planted bytes change no pixel", file: file,
            line: line)
        let output = try Sanitizer.sanitize(planted, options: .init(verifyDecode: true))
        XCTAssertFalse(Self.contains(output.output, Self.needle), "the needle survived", file: file, line: line)
        XCTAssertEqual(try Self.pixels(output.output), try Self.pixels(clean), file: file, line: line)
        XCTAssertEqual(output.output, try Sanitizer.sanitize(clean).output, file: file, line: line)
        let structure = try JPEGStructure(parsing: planted)
        XCTAssertEqual(
            JPEGSanitizer.contentSHA256(planted, structure),
            JPEGSanitizer.contentSHA256(clean, try JPEGStructure(parsing: clean)), file: file, line: line)
        XCTAssertTrue(
            output.removed.contains { $0.contains("no decoder reads") || $0.contains("no scan uses") },
            "\(output.removed)", file: file, line: line)
    }

    func testBytesAfterTheLastBlockOfABaselineScanAreNotPublished() throws {
        let clean = try Fixtures.sample("demo-camera-photo.jpg")
        try assertTrimmed(try Self.planting(Self.needle, in: clean, scan: 0), clean: clean)
        // With a stuffed 0xFF among them, as entropy data holds it.
        try assertTrimmed(
            try Self.planting([0xFF, 0x00] + Self.needle + [0xFF, 0x00], in: clean, scan: 0), clean: clean)
    }

    func testBytesAfterEachProgressiveScanAreNotPublished() throws {
        let clean = try Self.transcoded(["-progressive"])
        let scans = try JPEGStructure(parsing: clean).segments.filter { $0.kind == .scan }.count
        XCTAssertGreaterThan(scans, 4)
        // A DC scan, an AC first scan, an AC refinement scan, the last scan.
        for scan in [0, 1, scans - 2, scans - 1] {
            try assertTrimmed(try Self.planting(Self.needle, in: clean, scan: scan), clean: clean)
        }
    }

    func testBytesBeforeARestartMarkerAreNotPublished() throws {
        let clean = try Self.transcoded(["-restart", "1"])
        let data = try XCTUnwrap(JPEGStructure(parsing: clean).segments.first { $0.kind == .scan }?.scanData)
        let restart = try XCTUnwrap(data.first { clean[$0] == 0xFF && (0xD0...0xD7).contains(clean[$0 + 1]) })
        let planted = Array(clean[..<restart]) + Self.needle + Array(clean[restart...])
        try assertTrimmed(planted, clean: clean)
        // Restart markers after the last interval are not read either.
        try assertTrimmed(try Self.planting([0xFF, 0xD5] + Self.needle, in: clean, scan: 0), clean: clean)
    }

    func testAMisnumberedRestartMarkerIsRefused() throws {
        var bytes = try Self.transcoded(["-restart", "1"])
        let data = try XCTUnwrap(JPEGStructure(parsing: bytes).segments.first { $0.kind == .scan }?.scanData)
        let restart = try XCTUnwrap(data.first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xD0 })
        bytes[restart + 1] = 0xD3
        XCTAssertThrowsError(try Sanitizer.sanitize(bytes)) { XCTAssertTrue("\($0)".contains("RST3"), "\($0)") }
    }

    func testATableNoScanUsesIsNotPublished() throws {
        let clean = try Fixtures.sample("demo-camera-photo.jpg")
        // AC table 3: 18 codes of 8 bits whose symbols spell the needle.
        let table: [UInt8] = [0x13] + [0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0] + Self.needle
        let frame = try XCTUnwrap(JPEGStructure(parsing: clean).segments.first { $0.kind == .frame })
        let planted =
            Array(clean[..<frame.offset]) + [0xFF, 0xC4] + Bytes.put(table.count + 2, 2) + table
            + Array(clean[frame.offset...])
        try assertTrimmed(planted, clean: clean)
        // In a DHT segment with tables the scan uses, only the unused one goes.
        let dht = try XCTUnwrap(JPEGStructure(parsing: clean).segments.first { $0.kind == .huffmanTable })
        let joined =
            Array(clean[..<dht.offset]) + [0xFF, 0xC4] + Bytes.put(dht.payload.count + table.count + 2, 2)
            + Array(clean[dht.payload]) + table + Array(clean[dht.payload.upperBound...])
        try assertTrimmed(joined, clean: clean)
    }

    func testAQuantizationTableNoComponentUsesIsNotPublished() throws {
        let clean = try Fixtures.sample("demo-camera-photo.jpg")
        // Table 3, 8-bit values, the needle among them (as 4 real cameras of the corpus define an unused table).
        let table: [UInt8] = [0x03] + Self.needle + [UInt8](repeating: 1, count: 64 - Self.needle.count)
        let frame = try XCTUnwrap(JPEGStructure(parsing: clean).segments.first { $0.kind == .frame })
        let planted =
            Array(clean[..<frame.offset]) + [0xFF, 0xDB] + Bytes.put(table.count + 2, 2) + table
            + Array(clean[frame.offset...])
        try assertTrimmed(planted, clean: clean)
    }

    func testARefinementOfCoefficientsWhoseScanRanOutIsRefused() throws {
        let progressive = try Self.transcoded(["-progressive"])
        let structure = try JPEGStructure(parsing: progressive)
        // The first AC scan (Ss > 0, Ah 0) of a component that a later scan refines, cut to 8 bytes of data.
        let scans = structure.segments.filter { $0.kind == .scan }
        func fields(_ scan: JPEGSegment) -> (component: UInt8, ss: UInt8, ah: UInt8) {
            let p = scan.payload
            return (progressive[p.lowerBound + 1], progressive[p.upperBound - 3], progressive[p.upperBound - 1] >> 4)
        }
        let first = try XCTUnwrap(
            scans.first { scan in
                let f = fields(scan)
                return f.ss > 0 && f.ah == 0
                    && scans.contains { fields($0).component == f.component && fields($0).ss > 0 && fields($0).ah > 0 }
            })
        let data = try XCTUnwrap(first.scanData)
        XCTAssertGreaterThan(data.count, 8)
        let cut = Array(progressive[..<(data.lowerBound + 8)]) + Array(progressive[data.upperBound...])
        XCTAssertThrowsError(try Sanitizer.sanitize(cut)) { error in
            XCTAssertTrue("\(error)".contains("left incomplete"), "\(error)")
        }
    }

    func testRowsCodedBelowTheFrameHeightAreNotPublished() throws {
        let full = try Fixtures.sample("demo-camera-photo.jpg")
        let frame = try XCTUnwrap(JPEGStructure(parsing: full).segments.first { $0.kind == .frame })
        // The frame header says 64 of the 480 coded rows: the other 416 (a face, a name) are hidden.
        var shown = full
        shown[frame.payload.lowerBound + 1] = 0
        shown[frame.payload.lowerBound + 2] = 64
        let output = try Sanitizer.sanitize(shown, options: .init(verifyDecode: true)).output
        XCTAssertEqual(try Self.pixels(output), try Self.pixels(shown))
        let before = try XCTUnwrap(JPEGStructure(parsing: shown).segments.first { $0.kind == .scan }?.scanData).count
        let after = try XCTUnwrap(JPEGStructure(parsing: output).segments.first { $0.kind == .scan }?.scanData).count
        XCTAssertLessThan(after, before / 4, "the scan keeps the hidden rows")
        // Declaring the full height again brings back nothing: the rows below are not in the file.
        var restored = output
        let outFrame = try XCTUnwrap(JPEGStructure(parsing: output).segments.first { $0.kind == .frame })
        restored[outFrame.payload.lowerBound + 1] = full[frame.payload.lowerBound + 1]
        restored[outFrame.payload.lowerBound + 2] = full[frame.payload.lowerBound + 2]
        XCTAssertNotEqual(try? Self.pixels(restored), try Self.pixels(full))
    }

    func testAScanCodedOverAnEarlierOneIsRefused() throws {
        // A second baseline scan of the same components: the first picture is decoded and then overwritten.
        let bytes = try Fixtures.sample("demo-camera-photo.jpg")
        let scan = try XCTUnwrap(JPEGStructure(parsing: bytes).segments.first { $0.kind == .scan })
        let twice =
            Array(bytes[..<scan.bytes.upperBound]) + Array(bytes[scan.bytes]) + Array(bytes[scan.bytes.upperBound...])
        XCTAssertThrowsError(try Sanitizer.sanitize(twice)) { XCTAssertTrue("\($0)".contains("again"), "\($0)") }
        // The same in a progressive picture: its first DC scan twice.
        let progressive = try Self.transcoded(["-progressive"])
        let first = try XCTUnwrap(JPEGStructure(parsing: progressive).segments.first { $0.kind == .scan })
        let repeated =
            Array(progressive[..<first.bytes.upperBound]) + Array(progressive[first.bytes])
            + Array(progressive[first.bytes.upperBound...])
        XCTAssertThrowsError(try Sanitizer.sanitize(repeated)) { XCTAssertTrue("\($0)".contains("again"), "\($0)") }
    }

    func testRowsLeftToADNLMarkerAndOtherCodingsAreRefused() throws {
        var bytes = try Fixtures.sample("demo-camera-photo.jpg")
        let structure = try JPEGStructure(parsing: bytes)
        let frame = try XCTUnwrap(structure.segments.first { $0.kind == .frame })
        bytes[frame.payload.lowerBound + 1] = 0
        bytes[frame.payload.lowerBound + 2] = 0
        let end = structure.segments.last { $0.kind == .scan }!.bytes.upperBound
        bytes.insert(contentsOf: [0xFF, 0xDC, 0x00, 0x04, 0x01, 0xE0], at: end)
        XCTAssertThrowsError(try JPEGSanitizer.codedPlan(bytes, try JPEGStructure(parsing: bytes))) {
            XCTAssertTrue("\($0)".contains("DNL"), "\($0)")
        }
        XCTAssertThrowsError(try Sanitizer.sanitize(bytes))
        let arithmetic = try Self.transcoded(["-arithmetic"])
        XCTAssertThrowsError(try Sanitizer.sanitize(arithmetic)) {
            XCTAssertTrue("\($0)".contains("arithmetic-coded"), "\($0)")
        }
    }

    func testAPictureWithoutHuffmanTablesIsWalkedWithTheStandardOnes() throws {
        // cjpeg codes with the standard tables; without its DHT segments (as Motion-JPEG frames are stored)
        // libjpeg-turbo decodes it with the same ones.
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let photo = folder.appendingPathComponent("photo.jpg")
        try Data(Fixtures.sample("demo-camera-photo.jpg")).write(to: photo)
        let ppm = try Fixtures.run(try Fixtures.requireTool("djpeg"), [photo.path])
        let pixels = folder.appendingPathComponent("photo.ppm")
        try ppm.stdout.write(to: pixels)
        let coded = try Fixtures.run(try Fixtures.requireTool("cjpeg"), ["-quality", "85", pixels.path])
        XCTAssertEqual(coded.status, 0, coded.stderr)
        let withTables = Array(coded.stdout)
        let structure = try JPEGStructure(parsing: withTables)
        var clean: [UInt8] = [0xFF, 0xD8]
        for segment in structure.segments where segment.kind != .huffmanTable { clean += withTables[segment.bytes] }
        clean += [0xFF, 0xD9]
        XCTAssertEqual(try Self.pixels(clean), try Self.pixels(withTables))
        try assertTrimmed(try Self.planting(Self.needle, in: clean, scan: 0), clean: clean)
    }

    /// The walk's oracle on damaged scan data: whatever the sanitizer publishes from a picture with bytes of its
    /// entropy-coded data changed decodes (libjpeg) to exactly the pixels the damaged picture decodes to.
    func testDamagedScanDataIsPublishedOnlyWithTheSamePixels() throws {
        var generator = SplitMix(seed: 22)
        var published = 0
        for original in [
            try Fixtures.sample("demo-camera-photo.jpg"), try Self.transcoded(["-progressive"]),
            try Self.transcoded(["-restart", "1"]),
        ] {
            let data = try JPEGStructure(parsing: original).segments.compactMap(\.scanData)
            for _ in 0..<60 {
                var bytes = original
                for _ in 0..<(1 + Int(generator.next() % 3)) {
                    let range = data[Int(generator.next() % UInt64(data.count))]
                    guard !range.isEmpty else { continue }
                    bytes[range.lowerBound + Int(generator.next() % UInt64(range.count))] = UInt8(
                        truncatingIfNeeded: generator.next())
                }
                guard let output = try? Sanitizer.sanitize(bytes) else { continue }
                published += 1
                XCTAssertEqual(try Self.pixels(output.output), try Self.pixels(bytes))
            }
        }
        XCTAssertGreaterThan(published, 20)
    }

    func testCleanPicturesKeepTheirCodedBytesAndFingerprint() throws {
        for name in ["demo-camera-photo.jpg", "demo-phone-photo.jpg", "demo-ycck-print.jpg", "demo-portrait.jpg"] {
            let bytes = try Fixtures.sample(name)
            let structure = try JPEGStructure(parsing: bytes)
            let plan = try JPEGSanitizer.codedPlan(bytes, structure)
            XCTAssertEqual(plan.removed.count, 0, "\(name): \(plan.removed)")
            let raw = JPEGSanitizer.codedRanges(structure).reduce(into: [UInt8]()) { $0 += bytes[$1] }
            XCTAssertEqual(plan.codedBytes(structure), raw, name)
        }
        for arguments in [["-progressive"], ["-restart", "2"], ["-optimize"]] {
            let bytes = try Self.transcoded(arguments)
            let structure = try JPEGStructure(parsing: bytes)
            XCTAssertEqual(try JPEGSanitizer.codedPlan(bytes, structure).removed.count, 0, "\(arguments)")
        }
    }
}
