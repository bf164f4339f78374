import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Bytes no decoder reads inside a WebP's image chunks (issue 22): after a VP8 frame's last partition, after a VP8L
/// bitstream's end, after an ALPH chunk's data. A planted name must be gone and `dwebp` must decode the published
/// file to the same pixels as the input.
final class WebPUnreadBytesTests: MediaFolderTestCase {
    static let needle = Array("Jane Doe MRN 12345".utf8)

    /// A 96x64 test picture with a translucent alpha channel, as PNG.
    func picture() throws -> String {
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=96x64:rate=1", "-frames:v", "1", "-vf",
            "format=rgba,colorchannelmixer=aa=0.6", path("in.png"),
        ])
        return path("in.png")
    }

    func cwebp(_ arguments: [String], _ name: String) throws -> [UInt8] {
        let outcome = try Fixtures.run(try Fixtures.requireTool("cwebp"), ["-quiet"] + arguments + ["-o", path(name)])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return try Fixtures.bytes(folder.appendingPathComponent(name))
    }

    /// The picture `dwebp` decodes (PAM: RGBA with its size).
    func dwebp(_ bytes: [UInt8]) throws -> Data {
        let name = "decode-\(UUID().uuidString)"
        try Data(bytes).write(to: folder.appendingPathComponent(name + ".webp"))
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("dwebp"), ["-quiet", "-pam", path(name + ".webp"), "-o", path(name + ".pam")])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return try Data(contentsOf: folder.appendingPathComponent(name + ".pam"))
    }

    /// `bytes` with `extra` appended to the payload of its top-level chunk `fourCC` (sizes fixed).
    static func planted(_ bytes: [UInt8], in fourCC: String, _ extra: [UInt8]) throws -> [UInt8] {
        let structure = try WebPStructure(parsing: bytes)
        var body = Array("WEBP".utf8)
        for chunk in structure.chunks {
            let payload = Array(bytes[chunk.payload]) + (chunk.fourCC == fourCC ? extra : [])
            body += WebPSanitizer.chunk(chunk.fourCC, payload)
        }
        let size = UInt32(body.count)
        return Array("RIFF".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + body
    }

    func assertPublishedClean(_ input: [UInt8], reference: Data, _ label: String) throws {
        let clean = try Sanitizer.sanitize(input)
        XCTAssertNil(clean.output.firstRange(of: Self.needle), "\(label): the planted name is still in the output")
        XCTAssertEqual(try dwebp(clean.output), reference, "\(label): dwebp decodes other pixels")
        XCTAssertEqual(
            try Fingerprints.compute(clean.output).presentedSHA256, try Fingerprints.compute(input).presentedSHA256,
            label)
        // Published again, nothing more goes: the output holds no unread byte.
        XCTAssertEqual(try Sanitizer.sanitize(clean.output).output, clean.output, label)
    }

    func testNameAfterTheLastVP8PartitionIsDropped() throws {
        let original = try cwebp(["-q", "80", try picture()], "lossy.webp")
        let reference = try dwebp(original)
        XCTAssertEqual(try WebPStructure(parsing: original).chunks.map(\.fourCC), ["VP8X", "ALPH", "VP8 "])
        let planted = try Self.planted(original, in: "VP8 ", Self.needle)
        XCTAssertEqual(try dwebp(planted), reference, "the planted bytes are not read by dwebp")
        try assertPublishedClean(planted, reference: reference, "VP8")
        // The sticker (no alpha, a simple file) the same way.
        let sticker = try Fixtures.sample("demo-sticker.webp")
        try assertPublishedClean(
            try Self.planted(sticker, in: "VP8 ", Self.needle), reference: try dwebp(sticker), "sticker VP8")
    }

    func testNameAfterTheAlphaDataIsDropped() throws {
        for method in ["0", "1"] {
            let original = try cwebp(["-q", "80", "-alpha_method", method, try picture()], "alpha\(method).webp")
            let reference = try dwebp(original)
            let planted = try Self.planted(original, in: "ALPH", Self.needle)
            XCTAssertEqual(try dwebp(planted), reference)
            try assertPublishedClean(planted, reference: reference, "ALPH method \(method)")
        }
    }

    func testNameAfterTheVP8LBitstreamIsDropped() throws {
        let original = try cwebp(["-lossless", try picture()], "lossless.webp")
        let reference = try dwebp(original)
        XCTAssertEqual(try WebPStructure(parsing: original).chunks.map(\.fourCC), ["VP8L"])
        let planted = try Self.planted(original, in: "VP8L", Self.needle)
        XCTAssertEqual(try dwebp(planted), reference)
        try assertPublishedClean(planted, reference: reference, "VP8L")
    }

    func testImageLibwebpCannotDecodeIsRefused() throws {
        // A VP8 chunk cut inside its first partition: where its data would end is unknown.
        let sticker = try Fixtures.sample("demo-sticker.webp")
        let structure = try WebPStructure(parsing: sticker)
        let vp8 = try XCTUnwrap(structure.chunks.first { $0.fourCC == "VP8 " })
        var body = Array("WEBP".utf8)
        for chunk in structure.chunks {
            body += WebPSanitizer.chunk(
                chunk.fourCC, Array(sticker[chunk.offset == vp8.offset ? chunk.payload.prefix(40) : chunk.payload]))
        }
        let size = UInt32(body.count)
        let cut = Array("RIFF".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + body
        XCTAssertThrowsError(try Sanitizer.sanitize(cut)) { error in
            XCTAssertTrue("\(error)".contains("libwebp cannot decode"), "\(error)")
        }
    }
}
