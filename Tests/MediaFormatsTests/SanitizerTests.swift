import ByteKit
import TestSupport
import XCTest

@testable import MediaFormats

final class SanitizerTests: XCTestCase {
    func testMinimalOrientationBlockHoldsOrientationOnly() throws {
        for orientation in 1...8 {
            let block = try XCTUnwrap(EXIF.minimalOrientationBlock(orientation))
            XCTAssertEqual(Array(block.prefix(6)), Array("Exif\0\0".utf8))
            let contents = try XCTUnwrap(EXIF.read(tiff: block.dropFirst(6)))
            XCTAssertEqual(contents.orientation, orientation)
            XCTAssertEqual(contents.otherEntryCount, 0)
            XCTAssertEqual(contents.thumbnailBytes, 0)
        }
        XCTAssertNil(EXIF.minimalOrientationBlock(0))
        XCTAssertNil(EXIF.minimalOrientationBlock(9))
    }

    func testPhoneDemoPhotoLosesEverythingButPictureOrientationAndKeepsFingerprint() throws {
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let clean = try Sanitizer.sanitize(bytes, options: .init(verifyDecode: true))
        XCTAssertEqual(clean.orientation, 6)
        XCTAssertEqual(
            try Fingerprints.compute(clean.output).presentedSHA256, try Fingerprints.compute(bytes).presentedSHA256)
        XCTAssertNotNil(clean.pixelSHA256)
        let output = String(decoding: clean.output, as: UTF8.self)
        for needle in ["Demo-Doe", "DEMO-SN", "DemoPhone", "Demotown", "DEMO-P-0001"] {
            XCTAssertFalse(output.contains(needle), "\(needle) survived")
        }
        let items = Inspector.inspect(clean.output).metadata
        XCTAssertEqual(items.map(\.name), ["Orientation"])
    }

    func testEditedMetadataKeepsContentFingerprint() throws {
        let original = try Fingerprints.compute(Fixtures.sample("demo-phone-photo.jpg"))
        let edited = try Fingerprints.compute(Fixtures.sample("demo-phone-photo-edited.jpg"))
        XCTAssertNotEqual(original.fileSHA256, edited.fileSHA256)
        XCTAssertEqual(original.presentedSHA256, edited.presentedSHA256)
    }

    func testOptionsDropOrientationAndICC() throws {
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let clean = try Sanitizer.sanitize(bytes, options: .init(keepOrientation: false, keepICC: false))
        XCTAssertNil(clean.orientation)
        let kinds = try JPEGStructure(parsing: clean.output).segments.map(\.kind)
        XCTAssertFalse(kinds.contains(.exif))
        XCTAssertFalse(kinds.contains(.icc))
    }

    func testPNGTextAndEXIFGo() throws {
        let bytes = try Fixtures.sample("demo-screenshot.png")
        let clean = try Sanitizer.sanitize(bytes, options: .init(verifyDecode: true))
        let types = try PNGStructure(parsing: clean.output).chunks.map(\.type)
        XCTAssertFalse(types.contains { ["tEXt", "zTXt", "iTXt", "tIME"].contains($0) })
        XCTAssertEqual(clean.orientation, 1)
        XCTAssertEqual(types.filter { $0 == "eXIf" }.count, 1)
        XCTAssertFalse(String(decoding: clean.output, as: UTF8.self).contains("Demo-Doe"))
    }

    func testVerificationCatchesLeftoverMetadata() throws {
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        func verify(_ output: [UInt8], against original: [UInt8], orientation: Int? = 6) throws {
            try JPEGSanitizer.verify(
                output, original: original, originalStructure: try JPEGStructure(parsing: original),
                orientation: orientation,
                options: .init())
        }
        // The original file itself, posing as a sanitizer's output, must fail verification.
        XCTAssertThrowsError(try verify(bytes, against: bytes)) { error in
            guard case MediaError.verificationFailed = error else { return XCTFail("\(error)") }
        }
        let clean = try Sanitizer.sanitize(bytes)
        XCTAssertNoThrow(try verify(clean.output, against: bytes))
        // A clean output whose scan data differs from the input's by one bit must fail.
        var flipped = clean.output
        let scan = try XCTUnwrap(JPEGStructure(parsing: flipped).segments.last { $0.kind == .scan }?.scanData)
        flipped[scan.lowerBound + 10] ^= 0x01
        XCTAssertThrowsError(try verify(flipped, against: bytes))
        // The wrong orientation must fail.
        XCTAssertThrowsError(try verify(clean.output, against: bytes, orientation: 3))
    }

    func testPixelLimitRefusesDecompressionBomb() throws {
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        var limits = MediaLimits()
        limits.maxPixels = 1000
        XCTAssertThrowsError(try Sanitizer.sanitize(bytes, options: .init(limits: limits))) { error in
            guard case MediaError.limitExceeded(let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("640x480"), why)
        }
    }

    func testUnsupportedFormatsSayWhich() {
        let heic: [UInt8] = [0, 0, 0, 24] + Array("ftypheic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8)
        XCTAssertThrowsError(try Sanitizer.sanitize(heic)) { error in
            XCTAssertEqual(
                "\(error)", "unsupported format: HEIC is sanitized in place from a file (MediaFile), not from memory")
        }
        XCTAssertThrowsError(try Sanitizer.sanitize(Array("hello".utf8))) { error in
            XCTAssertEqual(
                "\(error)", "unsupported format: not an image or video format ConsentGate knows")
        }
    }

    func testAdobeSegmentIsKept() throws {
        // Splice an Adobe APP14 segment into a demo JPEG: it must survive sanitizing byte for byte.
        var bytes = try Fixtures.sample("demo-camera-photo.jpg")
        let adobe: [UInt8] =
            [0xFF, 0xEE, 0x00, 0x0E] + Array("Adobe".utf8) + [0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x01]
        bytes.insert(contentsOf: adobe, at: 2)
        let clean = try Sanitizer.sanitize(bytes)
        let kept = try JPEGStructure(parsing: clean.output).segments.filter { $0.kind == .adobe }
        XCTAssertEqual(kept.count, 1)
        XCTAssertEqual(Array(clean.output[kept[0].bytes]), adobe)
    }
}
