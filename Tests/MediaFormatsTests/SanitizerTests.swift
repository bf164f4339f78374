import ByteKit
import Foundation
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

    /// Issue 14: the sanitizer takes what the output must present from its caller instead of fingerprinting the
    /// input a second time. That shortcut must fail closed: a wrong value refuses the picture, options that change
    /// what it presents ignore the value, and what it returns is the output's own fingerprint.
    func testAKnownPresentedFingerprintReplacesTheInputPassAndFailsClosed() throws {
        for name in ["demo-phone-photo.jpg", "demo-screenshot.png", "demo-sticker.webp", "demo-animation.gif"] {
            let bytes = try Fixtures.sample(name)
            let presented = try XCTUnwrap(Fingerprints.compute(bytes).presentedSHA256)
            let clean = try Sanitizer.sanitize(bytes, expectedPresented: presented)
            XCTAssertEqual(clean.presentedSHA256, presented, name)
            XCTAssertEqual(try Fingerprints.compute(clean.output).presentedSHA256, presented, name)
            // Another picture's fingerprint (or a lying reader's) never passes.
            let other = String(repeating: "0", count: 64)
            XCTAssertThrowsError(try Sanitizer.sanitize(bytes, expectedPresented: other), name) { error in
                guard case MediaError.verificationFailed = error else { return XCTFail("\(name): \(error)") }
            }
            // The same through a file, as a worker does: `knownContent` wrong, refused; right, written.
            let folder = try Fixtures.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let path = folder.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            let file = try MediaFile(path: path)
            XCTAssertThrowsError(try file.sanitize(into: nil, knownContent: other), name)
            XCTAssertNoThrow(try file.sanitize(into: nil, knownContent: presented), name)
        }
        // Options that drop the ICC profile change what the picture presents on purpose: the known value is not
        // the target, the input as published with the options is.
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let bare = SanitizeOptions(keepOrientation: false, keepICC: false)
        let withoutKnown = try Sanitizer.sanitize(bytes, options: bare)
        let withWrongKnown = try Sanitizer.sanitize(
            bytes, options: bare, expectedPresented: String(repeating: "0", count: 64))
        XCTAssertEqual(withWrongKnown.output, withoutKnown.output)
        XCTAssertEqual(withWrongKnown.presentedSHA256, try Fingerprints.compute(withoutKnown.output).presentedSHA256)
    }

    /// Issue 14: a writer whose copy another reader will compare with the input's fingerprint does not fingerprint
    /// the copy itself (one walk and one hash of the whole picture fewer). The shortcut is taken only where that
    /// reader exists: into a descriptor, with options that keep what the picture presents; the copy is the same, and
    /// a wrong fingerprint is still refused, by the verifier.
    func testLeavingThePresentationCheckToTheVerifierStillFailsClosed() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let other = String(repeating: "0", count: 64)
        for name in ["demo-phone-photo.jpg", "demo-screenshot.png", "demo-sticker.webp", "demo-animation.gif"] {
            let bytes = try Fixtures.sample(name)
            let presented = try XCTUnwrap(Fingerprints.compute(bytes).presentedSHA256)
            let checked = try Sanitizer.sanitize(bytes, expectedPresented: presented)
            // The writer does not compare (a wrong value passes here) and says it did not: no fingerprint returned.
            let deferred = try Sanitizer.sanitize(bytes, expectedPresented: other, presentedCheckedByVerifier: true)
            XCTAssertNil(deferred.presentedSHA256, name)
            XCTAssertEqual(deferred.output, checked.output, name)
            // Through files, as the workers do: written into a descriptor, then verified by another reading.
            let input = folder.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: input, contents: Data(bytes)))
            let output = folder.appendingPathComponent("copy-" + name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: output, contents: nil))
            let fd = open(output, O_WRONLY)
            XCTAssertGreaterThanOrEqual(fd, 0)
            defer { close(fd) }
            let file = try MediaFile(path: input)
            XCTAssertNoThrow(
                try file.sanitize(
                    into: .descriptor(fd), knownContent: other, presentedCheckedByVerifier: true), name)
            let copy = try MediaFile(path: output)
            XCTAssertThrowsError(
                try copy.verifySanitized(expectedPresented: other, expectedSize: nil, options: .init()))
            XCTAssertEqual(
                try copy.verifySanitized(expectedPresented: presented, expectedSize: nil, options: .init()), presented)
            // Without a value to compare, the verifier still checks the metadata and reports what the copy presents.
            XCTAssertEqual(try copy.verifySanitized(expectedPresented: nil, expectedSize: nil, options: .init()), presented)
            // Without a verifier to come (only a check, or a copy written beside its name), the writer compares.
            XCTAssertThrowsError(try file.sanitize(into: nil, knownContent: other, presentedCheckedByVerifier: true))
            XCTAssertThrowsError(
                try file.sanitize(
                    to: folder.appendingPathComponent("beside-" + name).path, knownContent: other))
        }
        // A video's writer never compares what its copy presents: its verifier refuses to go without the original's
        // fingerprint unless the caller says it compares the returned one itself.
        let clip = Fixtures.sampleMedia.appendingPathComponent("demo-clip.mp4").path
        let original = try MediaFile(path: clip)
        let clipPresents = try XCTUnwrap(original.fingerprints().presentedSHA256)
        let clipCopy = folder.appendingPathComponent("clip-copy.mp4").path
        try original.sanitize(to: clipCopy).pending?.commit()
        let copiedClip = try MediaFile(path: clipCopy)
        XCTAssertThrowsError(
            try copiedClip.verifySanitized(expectedPresented: nil, expectedSize: original.size, options: .init()))
        XCTAssertEqual(
            try copiedClip.verifySanitized(
                expectedPresented: nil, expectedSize: original.size, options: .init(), callerCompares: true),
            clipPresents)
        // Options that change what the picture presents are checked by the writer whatever the caller says: the
        // verifier has nothing to compare them with.
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let bare = SanitizeOptions(keepOrientation: false, keepICC: false)
        let dropped = try Sanitizer.sanitize(bytes, options: bare, presentedCheckedByVerifier: true)
        XCTAssertEqual(dropped.presentedSHA256, try Fingerprints.compute(dropped.output).presentedSHA256)
    }

    /// The inspection takes both fingerprints from its own walk: they must be what `Fingerprints` computes.
    func testInspectionFingerprintsAreTheFingerprints() throws {
        for name in ["demo-phone-photo.jpg", "demo-ycck-print.jpg", "demo-screenshot.png", "demo-sticker.webp",
            "demo-animation.gif"]
        {
            let bytes = try Fixtures.sample(name)
            let report = Inspector.inspect(bytes)
            let prints = try Fingerprints.compute(bytes)
            XCTAssertNil(report.error, name)
            XCTAssertEqual(report.presentedSHA256, prints.presentedSHA256, name)
            XCTAssertEqual(report.legacyContentSHA256, prints.legacyContentSHA256, name)
            XCTAssertEqual(report.fileSHA256, prints.fileSHA256, name)
        }
    }

    /// `strip` without `--json` does not ask for the input's file SHA-256, and no verification computes the copy's:
    /// the readings skip those passes and still check everything else.
    func testReadingsWithoutFileHashesStillCheckEverything() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in.jpg").path
        XCTAssertTrue(FileManager.default.createFile(atPath: input, contents: Data(try Fixtures.sample("demo-phone-photo.jpg"))))
        let file = try MediaFile(path: input)
        let full = try file.fingerprints()
        let light = try file.fingerprints(hashingFile: false)
        XCTAssertEqual(light.fileSHA256, "")
        XCTAssertEqual(light.presentedSHA256, full.presentedSHA256)
        XCTAssertEqual(light.legacyContentSHA256, full.legacyContentSHA256)
        let output = folder.appendingPathComponent("out.jpg").path
        try file.sanitize(to: output).pending?.commit()
        let copy = try MediaFile(path: output)
        XCTAssertNoThrow(try copy.verifySanitized(
            expectedPresented: full.presentedSHA256, expectedSize: nil, options: .init()))
        // The original itself, with all its metadata, is refused; so is the clean copy against another fingerprint.
        XCTAssertThrowsError(try file.verifySanitized(
            expectedPresented: full.presentedSHA256, expectedSize: nil, options: .init()))
        XCTAssertThrowsError(try copy.verifySanitized(
            expectedPresented: String(repeating: "0", count: 64), expectedSize: nil, options: .init()))
        // Without the file hash, the inspection still finds every metadata item and both fingerprints.
        let bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let hashed = Inspector.inspect(bytes)
        let unhashed = Inspector.inspect(bytes, hashFile: false)
        XCTAssertEqual(unhashed.fileSHA256, "")
        XCTAssertEqual(unhashed.metadata.map(\.name), hashed.metadata.map(\.name))
        XCTAssertFalse(unhashed.metadata.isEmpty)
        XCTAssertEqual(unhashed.presentedSHA256, hashed.presentedSHA256)
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
