import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// `ftyp` published from known brands only, `elng` only as a language tag.
final class ISOFileTypeTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func sanitized(_ bytes: [UInt8], _ name: String) throws -> (bytes: [UInt8], removed: [String]) {
        let input = folder.appendingPathComponent(name)
        try Data(bytes).write(to: input)
        let output = folder.appendingPathComponent("clean-" + name)
        let result = try MediaFile(path: input.path).sanitize(to: output.path)
        try result.pending?.commit()
        XCTAssertEqual(
            try MediaFile(path: input.path).fingerprints().presentedSHA256,
            try MediaFile(path: output.path).fingerprints().presentedSHA256)
        return (try Fixtures.bytes(output), result.removed)
    }

    func movie(edit: SyntheticISO.Edit = .none) -> [UInt8] {
        SyntheticMovie.movie(
            media: [UInt8](repeating: 0x11, count: 2000), tracks: [.init(chunks: [0, 1000], sampleSize: 1000)],
            edit: edit)
    }

    func testUnknownBrandsAndTheMinorVersionAreNotPublished() throws {
        XCTAssertEqual(
            try ISOExact.publishedFileType(Array("isom".utf8) + [0, 0, 2, 0] + Array("isomJANEmp41".utf8)),
            Array("isom".utf8) + [0, 0, 0, 0] + Array("isomisommp41".utf8))
        XCTAssertEqual(
            try ISOExact.publishedFileType(Array("DOE1".utf8) + [1, 2, 3, 4] + Array("mp42".utf8)),
            Array("isom".utf8) + [0, 0, 0, 0] + Array("mp42".utf8))
        XCTAssertEqual(
            try ISOExact.publishedFileType(Array("3gXY".utf8) + [0, 0, 0, 0]), Array("3gp4".utf8) + [0, 0, 0, 0])
        XCTAssertThrowsError(try ISOExact.publishedFileType(Array("isom".utf8) + [0, 0, 0, 0, 1, 2]))
        // In a file: the brand "JANE" in place of mp41 is gone, the rest of the file as before.
        var bytes = movie()
        let at = try XCTUnwrap(bytes.firstRange(of: Array("mp41".utf8))).lowerBound
        bytes.replaceSubrange(at..<(at + 4), with: Array("JANE".utf8))
        let clean = try sanitized(bytes, "brands.mp4")
        XCTAssertNil(clean.bytes.firstRange(of: Array("JANE".utf8)))
        XCTAssertEqual(Array(clean.bytes[8..<24]), Array("isom".utf8) + [0, 0, 0, 0] + Array("isomisom".utf8))
        XCTAssertTrue(clean.removed.contains { $0.contains("ftyp") }, "\(clean.removed)")
        // The verifier refuses a copy still holding an unknown brand.
        var tampered = clean.bytes
        tampered.replaceSubrange(20..<24, with: Array("JANE".utf8))
        let copy = folder.appendingPathComponent("tampered.mp4")
        try Data(tampered).write(to: copy)
        XCTAssertThrowsError(
            try ISOSanitizer.verify(path: copy.path, size: tampered.count, expectedContent: "")
        ) { XCTAssertTrue("\($0)".contains("brands"), "\($0)") }
    }

    func testElngIsPublishedOnlyAsALanguageTag() throws {
        for tag in ["en", "en-US", "zh-Hant-TW", "es-419", "deu"] {
            XCTAssertTrue(ISOExact.isLanguageTag(Array(tag.utf8)), tag)
        }
        for tag in ["x-JaneDoe", "en-x-janedoe", "Jane-Doe", "en-US-janedoe1", "en-a-mrn12345", "", "e", "en--US"] {
            XCTAssertFalse(ISOExact.isLanguageTag(Array(tag.utf8)), tag)
        }
        let kept = try sanitized(
            movie(edit: .append("mdia", SyntheticISO.full("elng", Array("en-US".utf8) + [0]))), "en.mp4")
        XCTAssertNotNil(kept.bytes.firstRange(of: Array("elng".utf8) + [0, 0, 0, 0] + Array("en-US".utf8)))
        let planted = SyntheticISO.full("elng", Array("en-x-janedoe-mrn12345".utf8) + [0])
        let dropped = try sanitized(movie(edit: .append("mdia", planted)), "x.mp4")
        XCTAssertNil(dropped.bytes.firstRange(of: Array("janedoe".utf8)))
        XCTAssertNil(dropped.bytes.firstRange(of: Array("elng".utf8)))
        XCTAssertTrue(dropped.removed.contains { $0.contains("not a language tag") }, "\(dropped.removed)")
    }
}
