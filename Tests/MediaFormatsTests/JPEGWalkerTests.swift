import ByteKit
import TestSupport
import XCTest

@testable import MediaFormats

final class JPEGWalkerTests: XCTestCase {
    func testWalksDemoPhotoAndFindsEveryMetadataSegment() throws {
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let structure = try JPEGStructure(parsing: bytes)
        let kinds = Set(structure.segments.map(\.kind))
        XCTAssertTrue(kinds.isSuperset(of: [.exif, .xmp, .photoshopIRB, .comment, .frame, .scan, .huffmanTable]))
        XCTAssertEqual(structure.endOfImage, bytes.count - 2)
        XCTAssertNil(structure.trailer)
    }

    func testEveryTruncationIsATypedErrorNeverACrash() throws {
        let bytes = try Fixtures.sample("demo-camera-photo.jpg")
        for length in stride(from: 0, to: bytes.count - 2, by: 7) {
            XCTAssertThrowsError(try JPEGStructure(parsing: Array(bytes[0..<length])), "prefix \(length)") { error in
                guard case MediaError.malformed(format: "JPEG", _) = error else {
                    return XCTFail("prefix \(length): \(error)")
                }
            }
        }
    }

    func testRandomCorruptionNeverCrashesOrHangs() throws {
        let original = try Fixtures.sample("demo-camera-photo.jpg")
        var generator = SplitMix(seed: 42)
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<4 {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            // Either outcome is fine; what matters is that the walker returns.
            if let structure = try? JPEGStructure(parsing: bytes) {
                XCTAssertLessThanOrEqual(structure.endOfImage, bytes.count)
            }
            _ = try? Sanitizer.sanitize(bytes)
        }
    }

    func testNamesWhatIsWrong() {
        func reason(_ bytes: [UInt8]) -> String {
            do {
                _ = try JPEGStructure(parsing: bytes)
                return "parsed"
            } catch { return error.description }
        }
        XCTAssertEqual(reason([0x00, 0x01, 0x02, 0x03]), "malformed JPEG: no SOI marker at the start")
        XCTAssertEqual(
            reason([0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x01]),
            "malformed JPEG: segment at offset 2 declares an impossible length 1")
        XCTAssertEqual(
            reason([0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x40, 0x00]),
            "malformed JPEG: truncated: segment at offset 2 runs past the end of the file")
        XCTAssertEqual(
            reason([0xFF, 0xD8, 0xFF, 0xD8, 0xFF, 0xD9]),
            "malformed JPEG: a second SOI marker at offset 2 inside the image")
        XCTAssertEqual(
            reason([0xFF, 0xD8, 0xFF, 0xD9]), "malformed JPEG: no image data: EOI at offset 2 before any frame and scan"
        )
        // A frame and a scan whose entropy data never ends.
        let frame: [UInt8] = [0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00]
        let scan: [UInt8] = [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34, 0xFF, 0x00, 0x56]
        XCTAssertEqual(reason([0xFF, 0xD8] + frame + scan), "malformed JPEG: truncated: no EOI marker after the scan")
        let ended = try? JPEGStructure(parsing: [0xFF, 0xD8] + frame + scan + [0xFF, 0xD0, 0x11, 0xFF, 0xD9, 0xAB])
        XCTAssertEqual(ended?.segments.last?.scanData?.count, 8, "stuffed zeros and RST markers stay inside the scan")
        XCTAssertEqual(ended?.trailer?.count, 1)
    }

    func testStrayBytesBetweenSegmentsAreSkippedAndDropped() throws {
        var bytes = try Fixtures.sample("demo-camera-photo.jpg")
        let structure = try JPEGStructure(parsing: bytes)
        let dqt = try XCTUnwrap(structure.segments.first { $0.kind == .quantizationTable })
        bytes.insert(contentsOf: [0x12, 0x34, 0x56], at: dqt.offset)
        let walked = try JPEGStructure(parsing: bytes)
        XCTAssertEqual(walked.strayBytes.first?.count, 3)
        let clean = try Sanitizer.sanitize(bytes)
        XCTAssertEqual(try JPEGStructure(parsing: clean.output).strayBytes.count, 0)
        XCTAssertEqual(
            try Fingerprints.compute(clean.output).presentedSHA256,
            try Fingerprints.compute(Fixtures.sample("demo-camera-photo.jpg")).presentedSHA256)
    }
}

/// A small deterministic generator, so a failing corruption case can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
