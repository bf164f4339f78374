import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// The ISO-BMFF box walker and what inspect finds in video and phone formats.
final class ISOTests: XCTestCase {
    func write(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cg-iso-" + UUID().uuidString)
        try Data(bytes).write(to: url)
        return url.path
    }

    func testClipMetadataIsFound() throws {
        let path = Fixtures.sampleMedia.appendingPathComponent("demo-clip.mp4").path
        let report = try Inspector.inspect(path: path)
        XCTAssertNil(report.error)
        XCTAssertEqual(report.format, .mp4)
        XCTAssertTrue(report.metadata.contains { $0.family == "Location" }, "\(report.metadata)")
        XCTAssertTrue(report.metadata.contains { $0.value?.contains("Demo-Doe") ?? false })
        XCTAssertNotNil(report.legacyContentSHA256)
    }

    func testTruncationsAndCorruptionsNeverCrash() throws {
        let original = try Fixtures.sample("demo-clip.mp4")
        var errors = 0
        for length in stride(from: 12, to: original.count, by: 37) {
            let path = try write(Array(original[0..<length]))
            defer { try? FileManager.default.removeItem(atPath: path) }
            if (try? Inspector.inspect(path: path))?.error != nil { errors += 1 }
        }
        XCTAssertGreaterThan(errors, 10, "cut-off files are reported as malformed")
        var generator = SplitMix(seed: 5)
        for _ in 0..<200 {
            var bytes = original
            for _ in 0..<3 {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            let path = try write(bytes)
            _ = try? Inspector.inspect(path: path)
            // The sanitizer either refuses or writes a file that passed its own verification.
            if let clean = try? MediaFile(path: path).sanitize(to: path + ".out") {
                clean.pending?.discard()
            }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    func testLargeSizesSizeZeroAndImpossibleSizes() throws {
        func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            let size = UInt32(payload.count + 8)
            return (0..<4).reversed().map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + Array(type.utf8) + payload
        }
        let ftyp = box("ftyp", Array("isom".utf8) + [0, 0, 2, 0] + Array("isommp41".utf8))
        let moov = box("moov", box("udta", box("loci", [0, 0, 0, 0, 0x15, 0xC7])))
        // A 64-bit size (16-byte header) and a size-0 box that runs to the end of the file.
        let large = [0, 0, 0, 1] + Array("free".utf8) + [0, 0, 0, 0, 0, 0, 0, 20] + [1, 2, 3, 4]
        let toEnd = [0, 0, 0, 0] + Array("mdat".utf8) + [9, 9, 9]
        let good = try Inspector.inspect(path: try write(ftyp + moov + large + toEnd))
        XCTAssertNil(good.error)
        XCTAssertEqual(good.structure.map(\.name), ["ftyp", "moov", "moov/udta", "moov/udta/loci", "free", "mdat"])
        XCTAssertTrue(good.metadata.contains { $0.family == "Location" })
        let tooSmall = [0, 0, 0, 4] + Array("free".utf8)
        XCTAssertTrue(
            try Inspector.inspect(path: try write(ftyp + moov + tooSmall)).error?.contains("less than its header")
                ?? false)
        let tooBig = [0x7F, 0, 0, 0] + Array("free".utf8)
        XCTAssertTrue(
            try Inspector.inspect(path: try write(ftyp + moov + tooBig)).error?.contains("runs past the end") ?? false)
        var deep = box("free", [])
        for _ in 0..<20 { deep = box("moov", deep) }
        XCTAssertTrue(try Inspector.inspect(path: try write(ftyp + deep)).error?.contains("nested deeper") ?? false)
    }

    func testPhoneFilesShowLocationDevicesAndTracks() throws {
        let corpus = try Fixtures.requireCorpus()
        let mov = try Inspector.inspect(path: corpus.appendingPathComponent("mei__with-gps.mov").path)
        XCTAssertTrue(mov.metadata.contains { $0.name == "com.apple.quicktime.location.ISO6709" && $0.value != nil })
        XCTAssertTrue(mov.metadata.contains { $0.name.contains("mebx") }, "the face-detection track")
        XCTAssertTrue(mov.metadata.contains { $0.family == "Time" }, "capture times in mvhd/tkhd/mdhd")
        let mp4 = try Inspector.inspect(path: corpus.appendingPathComponent("mei__with-gps.mp4").path)
        XCTAssertTrue(mp4.metadata.contains { $0.family == "GPS" && $0.name == "©xyz" })
        let heic = try Inspector.inspect(path: corpus.appendingPathComponent("mei__Issue_487.heic").path)
        XCTAssertTrue(heic.metadata.contains { $0.name == "Exif item" })
    }
}
