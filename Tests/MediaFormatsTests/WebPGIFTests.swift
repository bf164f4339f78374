import ByteKit
import TestSupport
import XCTest

@testable import MediaFormats

final class WebPGIFTests: XCTestCase {
    func testStickerKeepsImageAndOrientationOnly() throws {
        let bytes = try Fixtures.sample("demo-sticker.webp")
        let clean = try Sanitizer.sanitize(bytes)
        XCTAssertEqual(clean.orientation, 6)
        let structure = try WebPStructure(parsing: clean.output)
        XCTAssertEqual(structure.chunks.map(\.fourCC), ["VP8X", "VP8 ", "EXIF"])
        XCTAssertEqual(clean.output[structure.chunks[0].payload.lowerBound], 0x08, "VP8X flags: EXIF only")
        XCTAssertEqual(WebPStructure.le32(clean.output, 4) + 8, clean.output.count)
        XCTAssertEqual(
            try Fingerprints.compute(clean.output).presentedSHA256, try Fingerprints.compute(bytes).presentedSHA256)
        let text = String(decoding: clean.output, as: UTF8.self)
        XCTAssertFalse(text.contains("Demo-Doe") || text.contains("DemoPhone"))
        let bare = try Sanitizer.sanitize(bytes, options: .init(keepOrientation: false))
        let bareStructure = try WebPStructure(parsing: bare.output)
        XCTAssertEqual(bareStructure.chunks.map(\.fourCC), ["VP8X", "VP8 "])
        XCTAssertEqual(bare.output[bareStructure.chunks[0].payload.lowerBound], 0x00)
    }

    func testAnimationLosesCommentAndXMPKeepsLooping() throws {
        let bytes = try Fixtures.sample("demo-animation.gif")
        let clean = try Sanitizer.sanitize(bytes)
        let kinds = try GIFStructure(parsing: clean.output).blocks.map(\.kind)
        XCTAssertTrue(kinds.contains(.application("NETSCAPE2.0")))
        XCTAssertFalse(kinds.contains(.comment))
        XCTAssertFalse(
            kinds.contains { if case .application(let id) = $0 { return id.hasPrefix("XMP") } else { return false } })
        XCTAssertEqual(kinds.filter { $0 == .image }.count, 6)
        XCTAssertEqual(clean.output.last, 0x3B)
        XCTAssertEqual(
            try Fingerprints.compute(clean.output).presentedSHA256, try Fingerprints.compute(bytes).presentedSHA256)
        XCTAssertFalse(String(decoding: clean.output, as: UTF8.self).contains("Demo-Doe"))
    }

    func testNoFullDecodeMeansRefusalNotASilentSkip() throws {
        for name in ["demo-sticker.webp", "demo-animation.gif"] {
            XCTAssertThrowsError(try Sanitizer.sanitize(try Fixtures.sample(name), options: .init(verifyDecode: true)))
            { error in
                guard case MediaError.unsupported = error else { return XCTFail("\(error)") }
            }
        }
    }

    func testTruncationAndCorruptionAreTypedErrors() throws {
        for name in ["demo-sticker.webp", "demo-animation.gif"] {
            let original = try Fixtures.sample(name)
            for length in stride(from: 0, to: original.count - 1, by: 53) {
                _ = try? Sanitizer.sanitize(Array(original[0..<length]))
                _ = Inspector.inspect(Array(original[0..<length]))
            }
            var generator = SplitMix(seed: 99)
            for _ in 0..<300 {
                var bytes = original
                for _ in 0..<3 {
                    bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
                if let clean = try? Sanitizer.sanitize(bytes) {
                    // Whatever was accepted came out verified: it must parse and carry nothing but the image.
                    XCTAssertFalse(String(decoding: clean.output, as: UTF8.self).contains("Demo-Doe"))
                }
            }
        }
        XCTAssertThrowsError(try WebPStructure(parsing: Array("RIFF\u{10}\0\0\0WEBPVP8 ".utf8))) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
        XCTAssertThrowsError(try GIFStructure(parsing: Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0, 0x21, 0xFE, 5, 1]))
        { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }
}
