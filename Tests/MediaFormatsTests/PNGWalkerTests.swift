import ByteKit
import TestSupport
import XCTest

@testable import MediaFormats

final class PNGWalkerTests: XCTestCase {
    func testWalksDemoScreenshot() throws {
        let bytes = try Fixtures.sample("demo-screenshot.png")
        let structure = try PNGStructure(parsing: bytes)
        XCTAssertEqual(structure.chunks.first?.type, "IHDR")
        XCTAssertEqual(structure.chunks.last?.type, "IEND")
        XCTAssertTrue(structure.chunks.allSatisfy(\.crcValid))
        XCTAssertTrue(structure.chunks.contains { $0.type == "tEXt" || $0.type == "iTXt" })
    }

    func testCRCMismatchInCriticalChunkNamesChunkAndOffset() throws {
        var bytes = try Fixtures.sample("demo-screenshot.png")
        let idat = try XCTUnwrap(PNGStructure(parsing: bytes).chunks.first { $0.type == "IDAT" })
        bytes[idat.data.lowerBound] ^= 0xFF
        XCTAssertThrowsError(try PNGStructure(parsing: bytes)) { error in
            XCTAssertEqual("\(error)", "malformed PNG: CRC mismatch in chunk IDAT at offset \(idat.offset)")
        }
    }

    func testCRCMismatchInAncillaryChunkDropsIt() throws {
        var bytes = try Fixtures.sample("demo-screenshot.png")
        let text = try XCTUnwrap(PNGStructure(parsing: bytes).chunks.first { $0.type == "tEXt" || $0.type == "iTXt" })
        bytes[text.data.lowerBound] ^= 0x01
        let structure = try PNGStructure(parsing: bytes)
        XCTAssertFalse(try XCTUnwrap(structure.chunks.first { $0.offset == text.offset }).crcValid)
        let clean = try Sanitizer.sanitize(bytes)
        XCTAssertFalse(try PNGStructure(parsing: clean.output).chunks.contains { $0.type == text.type })
    }

    func testEveryTruncationIsATypedError() throws {
        let bytes = try Fixtures.sample("demo-screenshot.png")
        for length in stride(from: 0, to: bytes.count, by: 97) {
            XCTAssertThrowsError(try PNGStructure(parsing: Array(bytes[0..<length]))) { error in
                guard case MediaError.malformed(format: "PNG", _) = error else { return XCTFail("\(error)") }
            }
        }
    }

    func testRandomCorruptionNeverCrashes() throws {
        let original = try Fixtures.sample("demo-screenshot.png")
        var generator = SplitMix(seed: 7)
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<3 {
                bytes[Int(generator.next() % UInt64(min(bytes.count, 4096)))] = UInt8(
                    truncatingIfNeeded: generator.next())
            }
            _ = try? Sanitizer.sanitize(bytes)
            _ = Inspector.inspect(bytes)
        }
    }

    func testHugeDeclaredLengthIsNotAllocated() {
        var bytes = PNGStructure.signature
        bytes += [0x7F, 0xFF, 0xFF, 0xFF] + Array("IHDR".utf8) + [0, 0, 0]
        XCTAssertThrowsError(try PNGStructure(parsing: bytes)) { error in
            XCTAssertEqual("\(error)", "malformed PNG: truncated: chunk IHDR at offset 8 runs past the end of the file")
        }
    }

    func testContentFingerprintIgnoresHowIDATIsSplit() throws {
        let bytes = try Fixtures.sample("demo-screenshot.png")
        let structure = try PNGStructure(parsing: bytes)
        let idats = structure.chunks.filter { $0.type == "IDAT" }
        XCTAssertGreaterThan(idats.count, 1, "ffmpeg writes the demo screenshot in several IDAT chunks")
        // Join every IDAT into one chunk and rebuild the file around it.
        let joined = idats.flatMap { Array(bytes[$0.data]) }
        var split = Array(bytes[0..<idats[0].offset])
        split += PNGSanitizer.chunk("IDAT", joined)
        split += bytes[idats[idats.count - 1].bytes.upperBound...]
        XCTAssertNotEqual(split, bytes)
        XCTAssertEqual(
            PNGSanitizer.contentSHA256(split, try PNGStructure(parsing: split)),
            PNGSanitizer.contentSHA256(bytes, structure))
    }
}
