import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Issue 22 items 7 and 8 for PNG and GIF: IDAT bytes after the end of the zlib stream are not published,
/// decompressed rows beyond IHDR's height are refused, and a GIF frame reaching outside the screen is refused.
final class PictureHiddenDataTests: XCTestCase {
    static let needle = JPEGUnreadBytesTests.needle

    /// The demo screenshot rebuilt from its chunks, `change` applied to each (nil drops it, several add).
    static func png(_ change: (PNGChunk, [UInt8]) -> [[UInt8]]) throws -> [UInt8] {
        let bytes = try Fixtures.sample("demo-screenshot.png")
        let structure = try PNGStructure(parsing: bytes)
        var output = PNGStructure.signature
        for chunk in structure.chunks { output += change(chunk, Array(bytes[chunk.data])).flatMap { $0 } }
        return output
    }

    static func pixels(_ format: MediaFormat, _ bytes: [UInt8]) throws -> String {
        try ImageCodec.decodeDigest(format, bytes, limits: .init()).pixelSHA256
    }

    func testPNGBytesAfterTheZlibStreamAreNotPublished() throws {
        let clean = try Fixtures.sample("demo-screenshot.png")
        let lastIDAT = try XCTUnwrap(PNGStructure(parsing: clean).chunks.last { $0.type == "IDAT" }?.offset)
        // Inside the last IDAT after the stream's end, and in an IDAT chunk of its own after it.
        let inside = try Self.png { chunk, data in
            [PNGSanitizer.chunk(chunk.type, chunk.offset == lastIDAT ? data + Self.needle : data)]
        }
        let after = try Self.png { chunk, data in
            chunk.offset == lastIDAT
                ? [PNGSanitizer.chunk("IDAT", data), PNGSanitizer.chunk("IDAT", Self.needle)]
                : [PNGSanitizer.chunk(chunk.type, data)]
        }
        for planted in [inside, after] {
            XCTAssertTrue(JPEGUnreadBytesTests.contains(planted, Self.needle))
            let output = try Sanitizer.sanitize(planted, options: .init(verifyDecode: true))
            XCTAssertFalse(JPEGUnreadBytesTests.contains(output.output, Self.needle))
            XCTAssertEqual(try Self.pixels(.png, output.output), try Self.pixels(.png, clean))
            XCTAssertEqual(output.output, try Sanitizer.sanitize(clean).output)
            XCTAssertTrue(output.removed.contains { $0.contains("zlib stream") }, "\(output.removed)")
            XCTAssertEqual(
                PNGSanitizer.contentSHA256(planted, try PNGStructure(parsing: planted)),
                PNGSanitizer.contentSHA256(clean, try PNGStructure(parsing: clean)))
        }
    }

    func testPNGRowsBeyondTheHeaderAreRefused() throws {
        let clean = try Fixtures.sample("demo-screenshot.png")
        let height = Bytes.be(clean, try PNGStructure(parsing: clean).chunks[0].data.lowerBound + 4, 4)
        XCTAssertGreaterThan(height, 4)
        // IHDR shows the top 4 rows; the image data codes all of them.
        let cropped = try Self.png { chunk, data in
            var data = data
            if chunk.type == "IHDR" { data.replaceSubrange(4..<8, with: Bytes.put(4, 4)) }
            return [PNGSanitizer.chunk(chunk.type, data)]
        }
        XCTAssertThrowsError(try Sanitizer.sanitize(cropped)) { error in
            XCTAssertTrue("\(error)".contains("\(height - 4) more rows than the picture shows"), "\(error)")
        }
    }

    func testAPNGFrameDataAfterItsZlibStreamIsNotPublishedAndExtraRowsAreRefused() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let made = folder.appendingPathComponent("clean.png")
        let run = try Fixtures.run(
            ffmpeg, ["-v", "error", "-f", "lavfi", "-i", "testsrc=d=0.6:s=32x24:r=5", "-f", "apng", made.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let clean = try Fixtures.bytes(made)
        let structure = try PNGStructure(parsing: clean)
        let firstFrameData = try XCTUnwrap(structure.chunks.first { $0.type == "fdAT" }).offset
        func rebuilt(_ change: (PNGChunk, [UInt8]) -> [UInt8]) -> [UInt8] {
            PNGStructure.signature
                + structure.chunks.flatMap { chunk in
                    PNGSanitizer.chunk(chunk.type, change(chunk, Array(clean[chunk.data])))
                }
        }
        let planted = rebuilt { chunk, data in chunk.offset == firstFrameData ? data + Self.needle : data }
        let output = try Sanitizer.sanitize(planted)
        XCTAssertFalse(JPEGUnreadBytesTests.contains(output.output, Self.needle))
        XCTAssertEqual(output.output, try Sanitizer.sanitize(clean).output)
        func frames(_ bytes: [UInt8], _ name: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            let decoded = try Fixtures.run(ffmpeg, ["-v", "error", "-i", url.path, "-f", "framemd5", "-"])
            XCTAssertEqual(decoded.status, 0, decoded.stderr)
            return decoded.text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        }
        XCTAssertEqual(try frames(output.output, "out.png"), try frames(planted, "in.png"))
        XCTAssertGreaterThan(try frames(clean, "clean.png").split(separator: "\n").count, 1)
        // The second frame's control chunk shows 2 of the rows its data codes (ffmpeg codes a 32x4 strip).
        let secondControl = try XCTUnwrap(structure.chunks.filter { $0.type == "fcTL" }.dropFirst().first).offset
        let cropped = rebuilt { chunk, data in
            var data = data
            if chunk.offset == secondControl { data.replaceSubrange(8..<12, with: Bytes.put(2, 4)) }
            return data
        }
        XCTAssertThrowsError(try Sanitizer.sanitize(cropped)) { error in
            XCTAssertTrue("\(error)".contains("more image data than its 32x2 pixels"), "\(error)")
        }
    }

    /// A PNG of `rows` (filter byte and pixels each) in a stored (uncompressed) zlib stream.
    static func storedPNG(width: Int, height: Int, depth: UInt8, colourType: UInt8, rows: [UInt8]) -> [UInt8] {
        var a = 1
        var b = 0
        for byte in rows {
            a = (a + Int(byte)) % 65521
            b = (b + a) % 65521
        }
        let n = rows.count
        let stream: [UInt8] =
            [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)] + rows
            + Bytes.put(b << 16 | a, 4)
        let header = Bytes.put(width, 4) + Bytes.put(height, 4) + [depth, colourType, 0, 0, 0]
        return PNGStructure.signature + PNGSanitizer.chunk("IHDR", header) + PNGSanitizer.chunk("IDAT", stream)
            + PNGSanitizer.chunk("IEND", [])
    }

    func testPNGsOfFewerThanEightBitsDecodeTheSameEveryTime() throws {
        // 9 pixels of 2 bits: 3 bytes a row, the last 6 bits of each row after its last pixel.
        let rows = (0..<5).flatMap { row in [0, UInt8(0x1B * row & 0xFF), 0xE4, 0xFF] as [UInt8] }
        let png = Self.storedPNG(width: 9, height: 5, depth: 2, colourType: 0, rows: rows)
        XCTAssertEqual(try Self.pixels(.png, png), try Self.pixels(.png, png))
        XCTAssertNoThrow(try Sanitizer.sanitize(png, options: .init(verifyDecode: true)))
    }

    /// The demo animation with its first frame moved by `dx`, `dy` pixels.
    static func gif(moving dx: Int, _ dy: Int) throws -> [UInt8] {
        var bytes = try Fixtures.sample("demo-animation.gif")
        let frame = try XCTUnwrap(GIFStructure(parsing: bytes).blocks.first { $0.kind == .image }).range.lowerBound
        let left = (Int(bytes[frame + 1]) | Int(bytes[frame + 2]) << 8) + dx
        let top = (Int(bytes[frame + 3]) | Int(bytes[frame + 4]) << 8) + dy
        bytes[frame + 1] = UInt8(left & 0xFF)
        bytes[frame + 2] = UInt8(left >> 8)
        bytes[frame + 3] = UInt8(top & 0xFF)
        bytes[frame + 4] = UInt8(top >> 8)
        return bytes
    }

    /// A 1x1 GIF whose one frame has the LZW data `data` (code size 2) in one sub-block.
    static func tinyGIF(_ data: [UInt8]) -> [UInt8] {
        Array("GIF89a".utf8) + [1, 0, 1, 0, 0x80, 0, 0] + [0, 0, 0, 255, 255, 255]
            + [0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, UInt8(data.count)] + data + [0, 0x3B]
    }

    func testGIFDataAfterTheEndCodeIsNotPublished() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let clean = try Fixtures.sample("demo-animation.gif")
        let frame = try XCTUnwrap(GIFStructure(parsing: clean).blocks.first { $0.kind == .image })
        // A sub-block holding the needle after the one with the end code, before the terminator.
        let planted =
            Array(clean[..<(frame.range.upperBound - 1)]) + [UInt8(Self.needle.count)] + Self.needle
            + Array(clean[(frame.range.upperBound - 1)...])
        let output = try Sanitizer.sanitize(planted)
        XCTAssertFalse(JPEGUnreadBytesTests.contains(output.output, Self.needle))
        XCTAssertEqual(output.output, try Sanitizer.sanitize(clean).output)
        XCTAssertTrue(output.removed.contains { $0.contains("end code") }, "\(output.removed)")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        func frames(_ bytes: [UInt8], _ name: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            // The frames only: the header's aspect ratio differs (the pixel-aspect byte is written as 0).
            let text = try Fixtures.run(ffmpeg, ["-v", "error", "-i", url.path, "-f", "framemd5", "-"]).text
            return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        }
        XCTAssertEqual(try frames(output.output, "out.gif"), try frames(planted, "in.gif"))
        // A frame coding one pixel more than its 1x1 (clear, 0, 0, end) is refused; clear, 0, end is published.
        XCTAssertNoThrow(try Sanitizer.sanitize(Self.tinyGIF([0x44, 0x01])))
        XCTAssertThrowsError(try Sanitizer.sanitize(Self.tinyGIF([0x04, 0x0A]))) { error in
            XCTAssertTrue("\(error)".contains("more pixels"), "\(error)")
        }
    }

    func testGIFFrameOutsideTheScreenIsRefused() throws {
        XCTAssertNoThrow(try Sanitizer.sanitize(try Self.gif(moving: 0, 0)))
        for (dx, dy) in [(1, 0), (0, 1), (4000, 0)] {
            XCTAssertThrowsError(try Sanitizer.sanitize(try Self.gif(moving: dx, dy)), "\(dx),\(dy)") { error in
                XCTAssertTrue("\(error)".contains("outside the"), "\(error)")
            }
        }
    }
}
