import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Issue 15, point 1: a consent binds what is presented. `presented_sha256` changes with every kept structure that
/// changes what a viewer sees or hears (edit lists, gamma, crops, ICC, orientation...), and not with metadata; the
/// old `content_sha256` (coded data only) stays the same across those pairs, which is the hole being closed.
final class PresentedFingerprintTests: XCTestCase {
    func prints(_ bytes: [UInt8]) throws -> Fingerprints { try Fingerprints.compute(bytes) }

    func prints(_ url: URL) throws -> Fingerprints { try MediaFile(path: url.path).fingerprints() }

    func assertPresentsDifferently(_ a: Fingerprints, _ b: Fingerprints, _ what: String) {
        XCTAssertNotNil(a.presentedSHA256)
        XCTAssertEqual(a.legacyContentSHA256, b.legacyContentSHA256, "\(what): the same coded data")
        XCTAssertNotEqual(a.presentedSHA256, b.presentedSHA256, "\(what) must change presented_sha256")
    }

    /// `exiftool -GPSLatitude=1 -Artist=x` (and a caption) on a copy: metadata only, so the match stays.
    func assertMetadataEditKeepsMatch(_ original: URL, extra: [String] = []) throws {
        let exiftool = try Fixtures.requireTool("exiftool")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("edited." + original.pathExtension)
        try FileManager.default.copyItem(at: original, to: copy)
        let edit = try Fixtures.run(
            exiftool,
            ["-GPSLatitude=1", "-GPSLatitudeRef=N", "-Artist=x", "-XMP:Description=caption", "-overwrite_original"]
                + extra + [copy.path])
        XCTAssertEqual(edit.status, 0, edit.stderr)
        XCTAssertNotEqual(try prints(copy).fileSHA256, try prints(original).fileSHA256, "exiftool changed nothing")
        XCTAssertEqual(
            try prints(copy).presentedSHA256, try prints(original).presentedSHA256,
            "\(original.lastPathComponent): a metadata-only edit must keep the match")
    }

    // MARK: - PNG

    func testPNGGammaAndColourChunksChangeTheFingerprint() throws {
        let bytes = try Fixtures.sample("demo-screenshot.png")
        let header = try PNGStructure(parsing: bytes).chunks[0].bytes.upperBound
        func inserting(_ chunk: [UInt8]) -> [UInt8] { Array(bytes[..<header]) + chunk + Array(bytes[header...]) }
        // gAMA 0.01: the picture whose left half renders black.
        let dark = inserting(PNGSanitizer.chunk("gAMA", SyntheticISO.be(1000, 4)))
        assertPresentsDifferently(try prints(bytes), try prints(dark), "gAMA")
        assertPresentsDifferently(
            try prints(dark), try prints(inserting(PNGSanitizer.chunk("gAMA", SyntheticISO.be(45455, 4)))),
            "another gAMA")
        assertPresentsDifferently(try prints(bytes), try prints(inserting(PNGSanitizer.chunk("sRGB", [0]))), "sRGB")
        // Sanitizing keeps gAMA and the fingerprint.
        let clean = try Sanitizer.sanitize(dark)
        XCTAssertEqual(try prints(clean.output).presentedSHA256, try prints(dark).presentedSHA256)
        // A text chunk is metadata.
        let text = inserting(PNGSanitizer.chunk("tEXt", Array("Author\0Jane Doe".utf8)))
        XCTAssertEqual(try prints(text).presentedSHA256, try prints(bytes).presentedSHA256)
    }

    func testPNGMetadataEditKeepsTheMatch() throws {
        try assertMetadataEditKeepsMatch(Fixtures.sampleMedia.appendingPathComponent("demo-screenshot.png"))
    }

    // MARK: - JPEG

    func testJPEGOrientationICCAndAdobeTransformChangeTheFingerprint() throws {
        let exiftool = try Fixtures.requireTool("exiftool")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg")
        var turned: [Fingerprints] = []
        for value in ["1", "6", "3"] {
            let copy = folder.appendingPathComponent("o\(value).jpg")
            try FileManager.default.copyItem(at: original, to: copy)
            XCTAssertEqual(try Fixtures.run(exiftool, ["-n", "-Orientation=\(value)", "-overwrite_original", copy.path]).status, 0)
            turned.append(try prints(copy))
        }
        assertPresentsDifferently(turned[0], turned[1], "Orientation 1 -> 6")
        assertPresentsDifferently(turned[1], turned[2], "Orientation 6 -> 3")
        // No Orientation is shown as 1.
        let none = folder.appendingPathComponent("none.jpg")
        try FileManager.default.copyItem(at: original, to: none)
        XCTAssertEqual(try Fixtures.run(exiftool, ["-Orientation=", "-overwrite_original", none.path]).status, 0)
        XCTAssertEqual(try prints(none).presentedSHA256, turned[0].presentedSHA256)

        // A different ICC profile: one byte of its curve data changed.
        let withICC = try XCTUnwrap(try jpegWithICC(), "no corpus or sample JPEG holds an ICC profile")
        let segment = try XCTUnwrap(try JPEGStructure(parsing: withICC).segments.first { $0.kind == .icc })
        var otherICC = withICC
        otherICC[segment.payload.upperBound - 3] ^= 0x5A
        assertPresentsDifferently(try prints(withICC), try prints(otherICC), "the ICC profile")

        // The Adobe colour transform of a YCCK picture.
        let ycck = try Fixtures.sample("demo-ycck-print.jpg")
        let structure = try JPEGStructure(parsing: ycck)
        let adobe = try XCTUnwrap(JPEGSanitizer.adobeSegment(structure))
        var untransformed = ycck
        untransformed[structure.segments[adobe].payload.lowerBound + 11] = 0
        assertPresentsDifferently(try prints(ycck), try prints(untransformed), "the Adobe transform")
    }

    func jpegWithICC() throws -> [UInt8]? {
        var candidates = [Fixtures.sampleMedia]
        if let corpus = try? Fixtures.requireCorpus() { candidates.append(corpus) }
        for folder in candidates {
            for name in (try FileManager.default.contentsOfDirectory(atPath: folder.path)).sorted()
            where name.lowercased().hasSuffix(".jpg") {
                let bytes = try Fixtures.bytes(folder.appendingPathComponent(name))
                if let structure = try? JPEGStructure(parsing: bytes), structure.segments.contains(where: { $0.kind == .icc }),
                    (try? Sanitizer.sanitize(bytes)) != nil
                {
                    return bytes
                }
            }
        }
        return nil
    }

    func testJPEGMetadataEditKeepsTheMatchAndSanitizingKeepsIt() throws {
        let photo = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg")
        try assertMetadataEditKeepsMatch(photo)
        let bytes = try Fixtures.bytes(photo)
        XCTAssertEqual(try prints(Sanitizer.sanitize(bytes).output).presentedSHA256, try prints(bytes).presentedSHA256)
    }

    /// keep_icc false: the output is checked against the input as published without the profile; a caller that
    /// names the record's fingerprint (the pipeline) gets a refusal instead of a picture that looks different.
    func testDroppingICCIsRefusedAgainstTheRecordedFingerprint() throws {
        let withICC = try XCTUnwrap(try jpegWithICC())
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("icc.jpg")
        try Data(withICC).write(to: input)
        let file = try MediaFile(path: input.path)
        let recorded = try file.fingerprints().presentedSHA256
        let noICC = SanitizeOptions(keepICC: false)
        XCTAssertNoThrow(try file.sanitize(to: nil, options: noICC))
        XCTAssertThrowsError(try file.sanitize(to: nil, options: noICC, knownContent: recorded)) { error in
            XCTAssertTrue("\(error)".contains("presented_sha256"), "\(error)")
        }
        XCTAssertNoThrow(try file.sanitize(to: nil, knownContent: recorded))
    }

    // MARK: - HEIF

    func testHEIFCropRotationAndMirrorChangeTheFingerprint() throws {
        let data = [UInt8](repeating: 7, count: 64)
        func heif(_ properties: [[UInt8]]) -> [UInt8] {
            SyntheticHEIF.file(data: data, items: [(1, "j2k1", [(0, 64)])], properties: properties)
        }
        let ispe = SyntheticISO.full("ispe", SyntheticISO.be(640, 4) + SyntheticISO.be(480, 4))
        // A centred 630x470 crop (within what sanitizing allows: `ISOHiddenPixels`): width, height and offsets as
        // fractions.
        let clap = SyntheticISO.box(
            "clap", [630, 1, 470, 1, 0, 0, 0].flatMap { SyntheticISO.be($0, 4) } + SyntheticISO.be(1, 4))
        let irot = SyntheticISO.box("irot", [1])
        let imir = SyntheticISO.box("imir", [0])
        let plain = try fingerprints(heif([ispe]))
        assertPresentsDifferently(plain, try fingerprints(heif([ispe, clap])), "clap")
        assertPresentsDifferently(plain, try fingerprints(heif([ispe, irot])), "irot")
        assertPresentsDifferently(plain, try fingerprints(heif([ispe, imir])), "imir")
        // The sanitizer keeps them, and the fingerprint.
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("crop.heic")
        try Data(heif([ispe, clap, irot])).write(to: input)
        let file = try MediaFile(path: input.path)
        let clean = try file.sanitize(to: folder.appendingPathComponent("clean.heic").path)
        XCTAssertEqual(
            try prints(URL(fileURLWithPath: clean.pending!.temporaryPath)).presentedSHA256,
            try file.fingerprints().presentedSHA256)
        clean.pending?.discard()
    }

    func fingerprints(_ bytes: [UInt8]) throws -> Fingerprints {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("file.heic")
        try Data(bytes).write(to: url)
        return try prints(url)
    }

    func testHEIFMetadataEditKeepsTheMatch() throws {
        try assertMetadataEditKeepsMatch(Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.heic"))
    }

    // MARK: - WebP and GIF

    func testWebPAndGIFMetadataEditKeepTheMatch() throws {
        try assertMetadataEditKeepsMatch(Fixtures.sampleMedia.appendingPathComponent("demo-sticker.webp"))
        try assertMetadataEditKeepsMatch(Fixtures.sampleMedia.appendingPathComponent("demo-animation.gif"))
    }

    // MARK: - Video

    /// A 10 s H.264 clip (B-frames, a key frame every second) with AAC sound: ffmpeg's edit lists shift the
    /// B-frame delay and hide the AAC priming, which must not count as hidden media.
    func makeClip(_ folder: URL) throws -> URL {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let clip = folder.appendingPathComponent("clip.mp4")
        let made = try Fixtures.run(
            ffmpeg,
            [
                "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25:duration=10", "-f", "lavfi", "-i",
                "sine=frequency=440:duration=10", "-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", clip.path,
            ])
        XCTAssertEqual(made.status, 0, made.stderr)
        return clip
    }

    /// Every edit list's first edit set to present `seconds` (in the movie timescale).
    static func trimmingEditLists(_ bytes: [UInt8], to seconds: Int) throws -> [UInt8] {
        var bytes = bytes
        let mvhd = try XCTUnwrap(find("mvhd", in: bytes).first)
        let scale = Bytes.be(bytes, mvhd + (bytes[mvhd] == 1 ? 20 : 12), 4)
        let lists = find("elst", in: bytes)
        XCTAssertFalse(lists.isEmpty, "ffmpeg wrote no edit list")
        for payload in lists {
            let width = bytes[payload] == 1 ? 8 : 4
            bytes.replaceSubrange((payload + 8)..<(payload + 8 + width), with: Bytes.put(seconds * scale, width))
        }
        return bytes
    }

    /// The payload offsets of every box of that type (a byte search: good enough for ffmpeg's small moov).
    static func find(_ type: String, in bytes: [UInt8]) -> [Int] {
        let name = Array(type.utf8)
        return (4..<(bytes.count - 4)).filter { bytes[$0..<($0 + 4)].elementsEqual(name) }.map { $0 + 4 }
    }

    func testAnEditListTrimIsPartOfTheFingerprintAndHiddenMediaIsRefused() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let clip = try makeClip(folder)
        let whole = try MediaFile(path: clip.path)
        XCTAssertNoThrow(try whole.sanitize(to: nil), "an ordinary ffmpeg clip hides nothing")

        // The case: an edit list presenting 2 s of the 10 s, and the same samples without it.
        let trimmed = folder.appendingPathComponent("trimmed.mp4")
        try Data(try Self.trimmingEditLists(try Fixtures.bytes(clip), to: 2)).write(to: trimmed)
        var untrimmedBytes = try Fixtures.bytes(trimmed)
        for payload in Self.find("edts", in: untrimmedBytes) {
            untrimmedBytes.replaceSubrange((payload - 4)..<payload, with: Array("free".utf8))
        }
        let untrimmed = folder.appendingPathComponent("untrimmed.mp4")
        try Data(untrimmedBytes).write(to: untrimmed)
        assertPresentsDifferently(try prints(trimmed), try prints(untrimmed), "an edit list trimming 8 s")
        assertPresentsDifferently(try prints(clip), try prints(trimmed), "the edit list's length")

        // The 8 hidden seconds are cut, not published (ISOTrimTests): the file is accepted.
        XCTAssertNoThrow(try MediaFile(path: trimmed.path).sanitize(to: nil))
    }

    func testAnFFmpegCutBetweenKeyFramesIsRefusedOnlyWithoutALeadInAllowance() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let clip = try makeClip(folder)
        let cut = folder.appendingPathComponent("cut.mp4")
        let made = try Fixtures.run(ffmpeg, ["-v", "error", "-ss", "1.5", "-t", "2", "-i", clip.path, "-c", "copy", cut.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        // The cut keeps the frames from the key frame at 1 s, hidden by its edit list: 0.5 s of lead-in, within the
        // default bound (2 s), refused with the bound at 0.
        XCTAssertNoThrow(try MediaFile(path: cut.path).sanitize(to: nil))
        XCTAssertThrowsError(
            try MediaFile(path: cut.path).sanitize(to: nil, options: SanitizeOptions(maxHiddenLeadInSeconds: 0))
        ) { error in
            XCTAssertTrue("\(error)".contains("hidden lead-in"), "\(error)")
        }
    }

    func testVideoMetadataEditKeepsTheMatchAndRotationBreaksIt() throws {
        let exiftool = try Fixtures.requireTool("exiftool")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let clip = try makeClip(folder)
        try assertMetadataEditKeepsMatch(clip, extra: ["-QuickTime:Title=Jane Doe"])
        try assertMetadataEditKeepsMatch(Fixtures.sampleMedia.appendingPathComponent("demo-clip.mp4"))
        let turned = folder.appendingPathComponent("turned.mp4")
        try FileManager.default.copyItem(at: clip, to: turned)
        XCTAssertEqual(try Fixtures.run(exiftool, ["-Rotation=90", "-overwrite_original", turned.path]).status, 0)
        assertPresentsDifferently(try prints(clip), try prints(turned), "the track matrix (rotation)")
        // Sanitizing keeps it.
        let file = try MediaFile(path: clip.path)
        let clean = try file.sanitize(to: folder.appendingPathComponent("clean.mp4").path)
        XCTAssertEqual(
            try prints(URL(fileURLWithPath: clean.pending!.temporaryPath)).presentedSHA256,
            try file.fingerprints().presentedSHA256)
        clean.pending?.discard()
    }

    // A disabled track: ISORewriterTests.testADisabledTrackIsDroppedNotPublished.

    // MARK: - Corpus

    /// Every corpus file the sanitizer writes presents what its input presents (the sanitizer verifies it; this
    /// recomputes both from the files on disk), and none is refused for hiding media or for a presentation change.
    func testEveryWrittenCorpusFileKeepsItsPresentedFingerprint() throws {
        let corpus = try Fixtures.requireCorpus()
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var written = 0
        var refused: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted() where name != "SOURCES.tsv" {
            let input = corpus.appendingPathComponent(name)
            guard let file = try? MediaFile(path: input.path), let before = try? file.fingerprints() else { continue }
            let clean: SanitizedFile
            do {
                clean = try file.sanitize(
                    to: folder.appendingPathComponent(name).path, knownContent: before.presentedSHA256)
            } catch {
                refused.append("\(name): \(error)")
                XCTAssertFalse("\(error)".contains("hides") || "\(error)".contains("presented_sha256"), "\(name): \(error)")
                continue
            }
            let after = try prints(URL(fileURLWithPath: clean.pending!.temporaryPath))
            clean.pending?.discard()
            XCTAssertEqual(after.presentedSHA256, before.presentedSHA256, name)
            // Definition 1 covers every coded byte as it is: the same unless samples no edit shows were trimmed or
            // metadata was filtered out of samples (presented_sha256 is over the samples as published: the same).
            if !clean.removed.contains(where: { $0.contains("trimmed") || $0.contains("metadata in its samples") }) {
                XCTAssertEqual(after.legacyContentSHA256, before.legacyContentSHA256, name)
            }
            written += 1
        }
        print("presented_sha256 kept by \(written) written corpus files; \(refused.count) refused:")
        for line in refused { print("  " + line) }
        XCTAssertGreaterThan(written, 80)
    }
}
