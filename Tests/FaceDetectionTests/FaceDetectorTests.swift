import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

@testable import FaceDetection

/// The face detector in process (the pipeline runs it in the sandboxed fingerprint worker): counts on the
/// public-domain samples, the working-size bound, upright pictures, and hostile bytes that must come back as an
/// error, never a crash.
final class FaceDetectorTests: XCTestCase {
    func faces(_ bytes: [UInt8], minFace: Int = FaceOptions.defaultMinFacePixels) throws -> FaceReading {
        try FaceDetector.detect(
            bytes, format: MediaFormat.sniff(Array(bytes.prefix(32))), options: FaceOptions(minFacePixels: minFace),
            limits: MediaLimits())
    }

    func testCountsTheFacesOfTheSamples() throws {
        XCTAssertEqual(try faces(try Fixtures.sample("faces-group-of-three.jpg")).count, 3)
        XCTAssertEqual(try faces(try Fixtures.sample("demo-two-people.jpg")).count, 2)
        XCTAssertEqual(try faces(try Fixtures.sample("faces-one-person.jpg")).count, 1)
        XCTAssertEqual(try faces(try Fixtures.sample("faces-no-people.jpg")).count, 0)
        // The synthetic demo pictures (test patterns) show nobody: their decisions are unchanged.
        for sample in ["demo-phone-photo.jpg", "demo-camera-photo.jpg", "demo-group-photo.jpg", "demo-screenshot.png"] {
            XCTAssertEqual(try faces(try Fixtures.sample(sample)).count, 0, sample)
        }
        // Boxes are in the picture's own pixels, inside it.
        let group = try faces(try Fixtures.sample("faces-group-of-three.jpg"))
        for box in group.faces {
            XCTAssertTrue(box.left >= 0 && box.top >= 0 && box.left + box.width <= group.width, "\(box)")
            XCTAssertTrue(box.top + box.height <= group.height && box.score >= 0, "\(box)")
        }
        // min_face_pixels: faces smaller than it are not counted.
        XCTAssertEqual(try faces(try Fixtures.sample("faces-group-of-three.jpg"), minFace: 200).count, 0)
    }

    func testAPictureLyingOnItsSideIsTurnedUprightFirst() throws {
        let exiftool = try Fixtures.requireTool("exiftool")
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // The pixels stored turned 90° clockwise, with Orientation 8 (rotate 270° to view): upright, three faces.
        let turned = folder.appendingPathComponent("turned.jpg").path
        let source = Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path
        XCTAssertEqual(try Fixtures.run(ffmpeg, ["-v", "error", "-i", source, "-vf", "transpose=1", "-q:v", "3", turned]).status, 0)
        XCTAssertEqual(try faces(Array(try Data(contentsOf: URL(fileURLWithPath: turned)))).count, 0, "on its side")
        let tagged = try Fixtures.run(exiftool, ["-q", "-overwrite_original", "-Orientation#=8", turned])
        XCTAssertEqual(tagged.status, 0, tagged.output)
        let upright = try faces(Array(try Data(contentsOf: URL(fileURLWithPath: turned))))
        XCTAssertEqual(upright.count, 3)
        XCTAssertEqual([upright.width, upright.height], [768, 256], "the upright size")
    }

    func testTheWorkingSizeIsBounded() {
        for (width, height) in [(4000, 3000), (12_000, 9_000), (500, 332), (64, 64), (30_000, 20)] {
            for minFace in [20, 32, 80, 400] {
                let budget = FaceOptions.defaultMaxWorkingPixels
                let plan = FaceDetector.workingPlan(width: width, height: height, minFace: minFace, budget: budget)
                let longest = max(width, height)
                XCTAssertLessThanOrEqual(plan.decodeSide, longest)
                let scale = Double(plan.decodeSide) / Double(longest) * Double(1 << plan.upsample)
                let scanned = Double(width) * Double(height) * scale * scale
                XCTAssertLessThanOrEqual(scanned, Double(budget) * 1.05, "\(width)x\(height) min \(minFace)")
            }
        }
    }

    func testHostileBytesAreRefusedNeverACrash() throws {
        var generator = UInt64(24)
        func next() -> UInt64 {
            generator &+= 0x9E37_79B9_7F4A_7C15
            var z = generator
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for sample in ["faces-group-of-three.jpg", "demo-screenshot.png"] {
            let original = try Fixtures.sample(sample)
            for round in 0..<60 {
                var bytes = original
                if round % 3 == 0 {
                    bytes = Array(bytes.prefix(Int(next() % UInt64(bytes.count))))
                } else {
                    for _ in 0..<(1 + Int(next() % 8)) {
                        bytes[Int(next() % UInt64(min(bytes.count, 4096)))] = UInt8(truncatingIfNeeded: next())
                    }
                }
                // Either a reading or an error: both are fine, a crash is not.
                _ = try? faces(bytes)
            }
        }
        XCTAssertThrowsError(try faces(Array("not a picture".utf8)))
    }

    /// A PNG whose colour chunks libpng warns about ("cHRM: invalid chromaticities", "iCCP: known incorrect sRGB
    /// profile": common in real files) has sound pixels: it is counted, not held as damaged.
    func testAWarningAboutAColourChunkDoesNotStopTheCount() throws {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return Bytes.put(Int(data.count), 4) + body + Bytes.put(Int(crc32(body)), 4)
        }
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return ~crc
        }
        let (width, height) = (64, 48)
        var rows: [UInt8] = []
        for y in 0..<height {
            rows.append(0)
            for x in 0..<width { rows += [UInt8(x * 4 % 256), UInt8(y * 5 % 256), 128] }
        }
        let header = Bytes.put(width, 4) + Bytes.put(height, 4) + [8, 2, 0, 0, 0]
        // Stored (uncompressed) deflate blocks: a valid zlib stream without a compressor.
        var zlib: [UInt8] = [0x78, 0x01]
        var rest = rows[...]
        while !rest.isEmpty {
            let block = rest.prefix(65_535)
            rest = rest.dropFirst(block.count)
            let length = UInt16(block.count)
            zlib += [rest.isEmpty ? 1 : 0, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            zlib += block
        }
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in rows {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        zlib += Bytes.put(Int(b << 16 | a), 4)
        let png =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
            + chunk("cHRM", [UInt8](repeating: 0, count: 32)) + chunk("IDAT", zlib) + chunk("IEND", [])
        XCTAssertEqual(try faces(png).count, 0)
    }
}
