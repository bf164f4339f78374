import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// The HEIF meta box after sanitizing, and verification of a tampered copy (continued from ISOSanitizerTests).
extension ISOSanitizerTests {
    func testAnExifItemInsideTheMetaBoxIsBlankedAndTheRestStaysInPlace() throws {
        let exif = [0, 0, 0, 6] + Array("Exif\0\0MM\0*\0\0\0\u{8}Jane Roe".utf8)
        let bytes = handMadeHEIF(exif: exif)
        let input = path("hand.heic")
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        let before = try ISOMedia(source: try FileSource(path: input))
        XCTAssertEqual(before.heif?.items.map(\.type), ["j2k1", "Exif"])
        XCTAssertEqual(before.heif?.items.last?.inIdat, true)
        let output = path("hand-clean.heic")
        let clean = try strip(input, output)
        XCTAssertTrue(clean.removed.contains { $0.contains("HEIF item 2 (Exif)") }, "\(clean.removed)")
        XCTAssertTrue(clean.removed.contains { $0.contains("property udes") }, "\(clean.removed)")
        let written = try Fixtures.bytes(URL(fileURLWithPath: output))
        XCTAssertEqual(written.count, bytes.count)
        XCTAssertFalse(
            try contains(output, "Jane Roe"), "Exif in idat, the udes property and the hdlr name are blanked")
        let after = try ISOMedia(source: try FileSource(path: output))
        XCTAssertEqual(after.heif?.items.map(\.type), ["j2k1"])
        XCTAssertEqual(after.heif?.items.first?.data, before.heif?.items.first?.data, "the picture's data did not move")
        XCTAssertEqual(
            try MediaFile(path: input).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256)
        XCTAssertEqual(try Inspector.inspect(path: output).metadata, [])
    }

    func testTheMetaBoxKeepsItsSizeAndOffsetsStayValid() throws {
        let corpus = try Fixtures.requireCorpus()
        // An iPhone HEIC: grid of tiles, Exif item, idat; every offset in iloc must still point at the same bytes.
        let input = corpus.appendingPathComponent("mei__Issue_263_dotnet.heic").path
        let output = path("iphone.heic")
        try strip(input, output)
        let a = try ISOMedia(source: try FileSource(path: input))
        let b = try ISOMedia(source: try FileSource(path: output))
        XCTAssertEqual(a.boxes.first { $0.type == "meta" }?.size, b.boxes.first { $0.type == "meta" }?.size)
        func described(_ media: ISOMedia, _ item: HEIFMeta.Item) throws -> String {
            "\(item.id) \(item.type) " + sha256Hex(try item.data.flatMap { try media.source.read($0) })
        }
        let keptBefore = try a.heif!.items.filter(\.keep).map { try described(a, $0) }
        let after = try b.heif!.items.map { try described(b, $0) }
        XCTAssertEqual(keptBefore, after)
        XCTAssertEqual(
            a.heif!.items.filter { $0.keep && !$0.inIdat }.map(\.data), b.heif!.items.filter { !$0.inIdat }.map(\.data),
            "coded tiles stay where they were")
        XCTAssertLessThan(after.count, a.heif!.items.count)
    }

    func testWrittenFileThatWasTamperedWithFailsVerification() throws {
        let input = Fixtures.sampleMedia.appendingPathComponent("demo-clip.mp4").path
        let media = try ISOMedia(source: try FileSource(path: input))
        let plan = try ISOSanitizer.plan(media)
        let content = try media.presentedSHA256()
        // A plan that forgets to free the user data: verification must catch the title left behind.
        var forgetful = plan
        forgetful.patches.removeAll { _ in true }
        forgetful.zeros.removeAll { _ in true }
        let pending = try ISOSanitizer.write(forgetful, from: media.source, to: path("bad.mp4"))
        defer { pending.discard() }
        XCTAssertThrowsError(
            try ISOSanitizer.verify(path: pending.temporaryPath, size: media.source.count, expectedContent: content))
        // The rewritten movie passes (again: the sanitizer verified it once).
        let good = try XCTUnwrap(try MediaFile(path: input).sanitize(to: path("good.mp4")).pending)
        defer { good.discard() }
        XCTAssertNoThrow(
            try ISOSanitizer.verify(path: good.temporaryPath, size: media.source.count, expectedContent: content))
        // One media byte damaged in the rewritten copy changes the content and fails.
        let rewritten = try ISOMedia(source: try FileSource(path: good.temporaryPath))
        let firstChunk = rewritten.tracks.first { $0.keep }!.chunks[0]
        var bytes = try Fixtures.bytes(URL(fileURLWithPath: good.temporaryPath))
        bytes[firstChunk.lowerBound] ^= 0xFF
        let damaged = path("damaged.mp4")
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        XCTAssertThrowsError(
            try ISOSanitizer.verify(path: damaged, size: media.source.count, expectedContent: content))
    }
}
