import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// The ISO-BMFF sanitizer on files made here with ffmpeg and heif-enc, planted with metadata a patient could be
/// identified by: titles, GPS, a subtitle track, a timecode track, Exif and XMP items.
final class ISOSanitizerTests: MediaFolderTestCase {
    /// Sanitizes `input` into `output` through the public entry point and commits it.
    @discardableResult
    func strip(_ input: String, _ output: String) throws -> SanitizedFile {
        let clean = try MediaFile(path: input).sanitize(to: output)
        try XCTUnwrap(clean.pending).commit()
        return clean
    }

    /// Video and audio as ffmpeg decodes them (no rotation applied), and the stream list.
    func decoded(_ file: String) throws -> String {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffmpeg"),
            ["-v", "error", "-noautorotate", "-i", file, "-map", "0:v?", "-map", "0:a?", "-f", "framemd5", "-"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
    }

    func streams(_ file: String) throws -> [String] {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffprobe"),
            ["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", file])
        return outcome.text.split(separator: "\n").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ", ")) }
    }

    func leakcheck(_ files: [String], needles: [String] = []) throws {
        _ = try Fixtures.requireTool("exiftool")
        guard FileManager.default.fileExists(atPath: Fixtures.leakcheck.path) else {
            throw XCTSkip("../shared/tools/leakcheck is not beside this checkout")
        }
        let outcome = try Fixtures.run(
            "/usr/bin/env", ["python3", Fixtures.leakcheck.path] + needles.flatMap { ["--needle", $0] } + files)
        XCTAssertEqual(outcome.status, 0, outcome.text + outcome.stderr)
    }

    func contains(_ file: String, _ needle: String) throws -> Bool {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        return data.range(of: Data(needle.utf8)) != nil
    }

    func testSubtitleTimecodeAndUserDataAreGoneAndTheMediaIsUntouched() throws {
        let subtitles = path("notes.srt")
        try "1\n00:00:00,000 --> 00:00:01,000\nPatient Jane Roe, ward 7\n".write(
            toFile: subtitles, atomically: true, encoding: .utf8)
        let input = path("visit.mov")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=1", "-f", "lavfi", "-i",
            "sine=frequency=440:duration=1", "-i", subtitles, "-map", "0", "-map", "1", "-map", "2",
            "-c:v", "mpeg4", "-c:a", "aac", "-c:s", "mov_text", "-timecode", "10:31:07:00",
            "-metadata", "title=Jane Roe after surgery", "-metadata", "location=+51.5000-000.1000/",
            "-metadata", "creation_time=2026-05-04T10:31:07Z", "-metadata:s:v", "handler_name=Jane Roe camera", input,
        ])
        // A phone held upright: exiftool writes the rotation into the video track's matrix.
        let rotated = try Fixtures.run(
            try Fixtures.requireTool("exiftool"), ["-q", "-overwrite_original", "-Rotation=90", input])
        XCTAssertEqual(rotated.status, 0, rotated.stderr)
        XCTAssertTrue(try contains(input, "Jane Roe"))
        XCTAssertEqual(try streams(input).sorted(), ["audio", "data", "subtitle", "video"])
        let output = path("clean.mov")
        let clean = try strip(input, output)
        XCTAssertTrue(clean.removed.contains { $0.contains("text") || $0.contains("sbtl") }, "\(clean.removed)")
        XCTAssertTrue(clean.removed.contains { $0.contains("tmcd") }, "\(clean.removed)")
        // Rewritten without the dropped tracks (smaller), no trace of the name in any byte, subtitle samples included.
        XCTAssertLessThan(
            try Fixtures.bytes(URL(fileURLWithPath: output)).count,
            try Fixtures.bytes(URL(fileURLWithPath: input)).count)
        XCTAssertFalse(try contains(output, "Jane Roe"))
        XCTAssertFalse(try contains(output, "ward 7"))
        XCTAssertEqual(try streams(output).sorted(), ["audio", "video"])
        XCTAssertEqual(try decoded(input), try decoded(output))
        // The rotation (tkhd matrix) is kept, the capture times are gone.
        let exiftool = try Fixtures.requireTool("exiftool")
        let before = try Fixtures.run(exiftool, ["-s3", "-n", "-Rotation", "-CreateDate", input]).text
        let after = try Fixtures.run(exiftool, ["-s3", "-n", "-Rotation", "-CreateDate", output]).text
        XCTAssertEqual(before.split(separator: "\n").first, "90")
        XCTAssertEqual(after.split(separator: "\n").first, "90")
        XCTAssertEqual(after.split(separator: "\n").last, "0000:00:00 00:00:00")
        // Same content fingerprint before and after; the report of the output lists nothing.
        XCTAssertEqual(
            try MediaFile(path: input).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256)
        XCTAssertEqual(try Inspector.inspect(path: output).metadata, [])
        try leakcheck([output], needles: ["Jane Roe"])
    }

    func testContentFingerprintSurvivesARemuxAndMetadataEditsButNotAReencode() throws {
        let input = path("a.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
            "-c:v", "mpeg4", "-c:a", "aac", "-metadata", "title=first", input,
        ])
        let remuxed = path("b.mp4")
        try ffmpeg(["-i", input, "-map", "0", "-c", "copy", "-map_metadata", "-1", "-metadata", "title=x", remuxed])
        let reencoded = path("c.mp4")
        try ffmpeg(["-i", input, "-c:v", "mpeg4", "-q:v", "9", "-c:a", "copy", reencoded])
        let original = try MediaFile(path: input).fingerprints()
        XCTAssertNotEqual(original.fileSHA256, try MediaFile(path: remuxed).fingerprints().fileSHA256)
        // The coded samples survive a remux (definition 1); presented_sha256 need not: ffmpeg rewrites the bitrate
        // fields of the sample description (esds), which is part of it. A remuxed clip is re-recorded.
        XCTAssertEqual(original.legacyContentSHA256, try MediaFile(path: remuxed).fingerprints().legacyContentSHA256)
        XCTAssertNotEqual(original.presentedSHA256, try MediaFile(path: reencoded).fingerprints().presentedSHA256)
    }

    func testEncryptedFragmentsAndMetadataOnlyFilesAreRefused() throws {
        // Fragmented movies are rewritten (ISOFragmentTests); encrypted ones stay refused.
        let encrypted = path("drm.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "mpeg4", "-movflags",
            "frag_keyframe+empty_moov", "-encryption_scheme", "cenc-aes-ctr", "-encryption_key",
            "76a6c65c5ea762046bd749a2e632ccbb", "-encryption_kid", "a7e61c373e219033c21091fa607bf3b8", encrypted,
        ])
        XCTAssertThrowsError(try MediaFile(path: encrypted).sanitize(to: path("x.mp4"))) { error in
            XCTAssertTrue("\(error)".contains("encrypted"), "\(error)")
        }
        let subtitles = path("s.srt")
        try "1\n00:00:00,000 --> 00:00:01,000\nJane Roe\n".write(toFile: subtitles, atomically: true, encoding: .utf8)
        let textOnly = path("text.mp4")
        try ffmpeg(["-i", subtitles, "-c:s", "mov_text", textOnly])
        XCTAssertThrowsError(try MediaFile(path: textOnly).sanitize(to: path("y.mp4"))) { error in
            XCTAssertTrue("\(error)".contains("no audio or video track"), "\(error)")
        }
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") }, [])
    }

    func testHEICExifXMPAndTheirReferencesAreRemovedAndThePicturesKept() throws {
        let encoder = try Fixtures.requireTool("heif-enc")
        let convert = try Fixtures.requireTool("heif-convert")
        let exiftool = try Fixtures.requireTool("exiftool")
        let jpeg = path("photo.jpg")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=128x96", "-frames:v", "1", jpeg])
        let tagged = try Fixtures.run(
            exiftool,
            [
                "-q", "-overwrite_original", "-n", "-GPSLatitude=51.5", "-GPSLatitudeRef=N", "-GPSLongitude=0.1",
                "-GPSLongitudeRef=W", "-Artist=Jane Roe", "-XMP:Creator=Jane Roe", "-Orientation=6", jpeg,
            ])
        XCTAssertEqual(tagged.status, 0, tagged.stderr)
        let input = path("photo.heic")
        let encoded = try Fixtures.run(encoder, ["-q", "50", "-t", "32", jpeg, "-o", input])
        XCTAssertEqual(encoded.status, 0, encoded.stderr)
        let before = try Inspector.inspect(path: input)
        XCTAssertTrue(before.metadata.contains { $0.name == "Exif item" })
        XCTAssertTrue(before.metadata.contains { $0.name == "XMP item" })
        let output = path("clean.heic")
        let clean = try strip(input, output)
        // Exif, XMP and the thumbnail (which could still show what an edit cropped away).
        XCTAssertGreaterThanOrEqual(clean.removed.filter { $0.hasPrefix("HEIF item") }.count, 3, "\(clean.removed)")
        XCTAssertTrue(clean.removed.contains { $0.contains("thumbnail") }, "\(clean.removed)")
        XCTAssertFalse(
            try ISOMedia(source: try FileSource(path: output)).heif!.references.contains {
                $0.type == Array("thmb".utf8)
            })
        XCTAssertFalse(try contains(output, "Jane Roe"))
        XCTAssertEqual(try Inspector.inspect(path: output).metadata, [])
        XCTAssertEqual(
            try MediaFile(path: input).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256)
        // Primary image and thumbnail decode to the same pixels, orientation (irot) applied as before.
        func pixels(_ file: String, _ name: String) throws -> [String] {
            let out = folder.appendingPathComponent(name, isDirectory: true)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let outcome = try Fixtures.run(convert, ["--quiet", file, out.appendingPathComponent("i.y4m").path])
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
            return try FileManager.default.contentsOfDirectory(atPath: out.path).sorted().map {
                $0 + sha256Hex(try Fixtures.bytes(out.appendingPathComponent($0)))
            }
        }
        XCTAssertEqual(try pixels(input, "before"), try pixels(output, "after"))
        try leakcheck([output], needles: ["Jane Roe"])
    }

    func testAMotionPhotoKeepsThePictureAndLosesTheVideo() throws {
        let encoder = try Fixtures.requireTool("heif-enc")
        let jpeg = path("still.jpg")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", jpeg])
        let still = path("still.heic")
        XCTAssertEqual(try Fixtures.run(encoder, ["-q", "50", jpeg, "-o", still]).status, 0)
        let clip = path("motion.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "mpeg4",
            "-metadata", "title=Jane Roe moving", "-metadata", "location=+51.5000-000.1000/", clip,
        ])
        // A motion photo as some phones write it: the video file appended after the picture's boxes.
        let input = path("motion.heic")
        try Data(try Fixtures.bytes(URL(fileURLWithPath: still)) + Fixtures.bytes(URL(fileURLWithPath: clip))).write(
            to: URL(fileURLWithPath: input))
        XCTAssertTrue(try Inspector.inspect(path: input).structure.contains { $0.name == "moov" })
        let output = path("motion-clean.heic")
        let clean = try strip(input, output)
        XCTAssertTrue(clean.removed.contains { $0.contains("motion photo") }, "\(clean.removed)")
        XCTAssertFalse(try contains(output, "Jane Roe"))
        XCTAssertFalse(try Inspector.inspect(path: output).structure.contains { $0.name == "moov" })
        XCTAssertEqual(
            try MediaFile(path: still).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256, "the picture is the same picture")
        try leakcheck([output], needles: ["Jane Roe"])
    }

    func testCorruptedAndTruncatedHEICNeverCrashesOrLeaks() throws {
        let encoder = try Fixtures.requireTool("heif-enc")
        let exiftool = try Fixtures.requireTool("exiftool")
        let jpeg = path("c.jpg")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", jpeg])
        XCTAssertEqual(
            try Fixtures.run(
                exiftool, ["-q", "-overwrite_original", "-Artist=Jane Roe", "-XMP:Creator=Jane Roe", jpeg]
            )
            .status, 0)
        let input = path("c.heic")
        XCTAssertEqual(try Fixtures.run(encoder, ["-q", "50", "-t", "16", jpeg, "-o", input]).status, 0)
        let original = try Fixtures.bytes(URL(fileURLWithPath: input))
        let media = try ISOMedia(source: try FileSource(path: input))
        let meta = try XCTUnwrap(media.boxes.first { $0.type == "meta" })
        var generator = SplitMix(seed: 11)
        var written = 0
        var variants: [[UInt8]] = stride(from: 8, to: original.count, by: 41).map { Array(original[0..<$0]) }
        for _ in 0..<300 {
            var bytes = original
            // Damage the boxes that describe the picture (the meta box), where the parsing is.
            for _ in 0..<Int(1 + generator.next() % 3) {
                let at = meta.offset + Int(generator.next() % UInt64(meta.size))
                bytes[at] = UInt8(truncatingIfNeeded: generator.next())
            }
            variants.append(bytes)
        }
        for bytes in variants {
            let file = path("v.heic")
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            _ = try? Inspector.inspect(path: file)
            if let clean = try? MediaFile(path: file).sanitize(to: path("v-out.heic")), let pending = clean.pending {
                written += 1
                XCTAssertFalse(
                    try contains(pending.temporaryPath, "Jane Roe"), "a damaged file was written with the name")
                pending.discard()
            }
        }
        XCTAssertGreaterThan(written, 10, "some damage (in names, padding) still leaves a file that can be cleaned")
    }

    func testTheIPhoneFaceDetectionTracksThatExiftoolKeepsAreGone() throws {
        let corpus = try Fixtures.requireCorpus()
        let input = corpus.appendingPathComponent("mei__with-gps.mov").path
        XCTAssertEqual(try streams(input).filter { $0 == "data" }.count, 2, "two mebx tracks in the original")
        // inspect says which tracks publishing keeps.
        let details = try Inspector.inspect(path: input).structure.compactMap(\.detail)
        XCTAssertEqual(details.filter { $0.contains("meta mebx") && $0.hasSuffix("dropped when published") }.count, 2)
        XCTAssertEqual(details.filter { $0.hasSuffix(", kept") }.count, 2, "\(details)")
        // exiftool -all= keeps them (the issue's complaint); the sanitizer drops them with their samples.
        let byExiftool = path("exiftool.mov")
        _ = try Fixtures.run(try Fixtures.requireTool("exiftool"), ["-q", "-q", "-all=", "-o", byExiftool, input])
        XCTAssertEqual(try streams(byExiftool).filter { $0 == "data" }.count, 2)
        let output = path("clean.mov")
        let clean = try strip(input, output)
        XCTAssertEqual(clean.removed.filter { $0.contains("mebx") }.count, 2, "\(clean.removed)")
        XCTAssertEqual(try streams(output).sorted(), ["audio", "video"])
        XCTAssertEqual(try decoded(input), try decoded(output))
        let media = try ISOMedia(source: try FileSource(path: input))
        let out = try Data(contentsOf: URL(fileURLWithPath: output))
        var searched = 0
        for track in media.tracks where !track.keep {
            for chunk in track.chunks where chunk.count >= 32 {
                let sample = try media.source.read(chunk)
                guard sample.contains(where: { $0 != 0 }) else { continue }
                XCTAssertNil(out.range(of: Data(sample)), "metadata samples from \(chunk) are in the output")
                searched += 1
            }
        }
        XCTAssertGreaterThan(searched, 0)
    }

    func testAnUnknownPropertyIsBlankedInPlaceAndTheDecoderStillReadsThePicture() throws {
        let encoder = try Fixtures.requireTool("heif-enc")
        let convert = try Fixtures.requireTool("heif-convert")
        let jpeg = path("p.jpg")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", jpeg])
        let encoded = path("p.heic")
        XCTAssertEqual(try Fixtures.run(encoder, ["-q", "50", jpeg, "-o", encoded]).status, 0)
        // Rename the pixi property to a type nobody knows and make every association non-essential, as a vendor
        // property would be.
        var bytes = try Fixtures.bytes(URL(fileURLWithPath: encoded))
        let media = try ISOMedia(source: try FileSource(path: encoded))
        let pixi = try XCTUnwrap(media.boxes.first { $0.type == "pixi" })
        bytes.replaceSubrange((pixi.offset + 4)..<(pixi.offset + 8), with: Array("xixi".utf8))
        let ipma = try XCTUnwrap(media.boxes.first { $0.type == "ipma" })
        let wide = bytes[ipma.offset + 11] & 1 == 1
        let idSize = bytes[ipma.offset + 8] < 1 ? 2 : 4
        var at = ipma.offset + 16
        for _ in 0..<Bytes.be(bytes, ipma.offset + 12, 4) {
            at += idSize
            let count = Int(bytes[at])
            at += 1
            for _ in 0..<count {
                bytes[at] &= 0x7F
                at += wide ? 2 : 1
            }
        }
        let input = path("vendor.heic")
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        let output = path("vendor-clean.heic")
        let clean = try strip(input, output)
        XCTAssertTrue(clean.removed.contains { $0.contains("property xixi") }, "\(clean.removed)")
        // The property numbers of the others did not move: the picture decodes to the same pixels.
        func pixels(_ file: String) throws -> String {
            let out = path(UUID().uuidString + ".y4m")
            XCTAssertEqual(try Fixtures.run(convert, ["--quiet", file, out]).status, 0)
            return sha256Hex(try Fixtures.bytes(URL(fileURLWithPath: out)))
        }
        XCTAssertEqual(try pixels(input), try pixels(output))
        // An essential property ConsentGate does not know is refused instead.
        var essential = try Fixtures.bytes(URL(fileURLWithPath: encoded))
        essential.replaceSubrange((pixi.offset + 4)..<(pixi.offset + 8), with: Array("xixi".utf8))
        let strict = path("strict.heic")
        try Data(essential).write(to: URL(fileURLWithPath: strict))
        XCTAssertThrowsError(try MediaFile(path: strict).sanitize(to: path("strict-out.heic"))) { error in
            XCTAssertTrue("\(error)".contains("needs a property ConsentGate does not know"), "\(error)")
        }
    }

    /// A minimal HEIF built by hand: a picture item in mdat and an Exif item inside the meta box's idat.
    func handMadeHEIF(exif: [UInt8]) -> [UInt8] {
        func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            Bytes.put(payload.count + 8, 4) + Array(type.utf8) + payload
        }
        func full(_ type: String, _ version: UInt8, _ payload: [UInt8]) -> [UInt8] {
            box(type, [version, 0, 0, 0] + payload)
        }
        let pixels = Array("CODED-PICTURE-DATA".utf8)
        let ftyp = box("ftyp", Array("heic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8))
        let hdlr = full(
            "hdlr", 0, [0, 0, 0, 0] + Array("pict".utf8) + [UInt8](repeating: 0, count: 12) + Array("Jane Roe\0".utf8))
        let pitm = full("pitm", 0, [0, 1])
        let iinf = full(
            "iinf", 0,
            [0, 2] + full("infe", 2, [0, 1, 0, 0] + Array("j2k1".utf8) + [0])
                + full("infe", 2, [0, 2, 0, 0] + Array("Exif".utf8) + [0]))
        let ipco = box(
            "ipco", full("ispe", 0, Bytes.put(64, 4) + Bytes.put(48, 4)) + box("udes", Array("Jane Roe ward 7".utf8)))
        let ipma = full("ipma", 0, Bytes.put(1, 4) + [0, 1, 2, 1, 2])
        let idat = box("idat", exif)
        // iloc v1: offset/length 4 bytes, base offset 0, index 0; item 1 in mdat (patched below), item 2 in idat.
        func iloc(_ mdatOffset: Int) -> [UInt8] {
            full(
                "iloc", 1,
                [0x44, 0x00] + [0, 2] + [0, 1] + [0, 0] + [0, 0] + [0, 1] + Bytes.put(mdatOffset, 4)
                    + Bytes.put(pixels.count, 4) + [0, 2] + [0, 1] + [0, 0] + [0, 1] + Bytes.put(0, 4)
                    + Bytes.put(exif.count, 4))
        }
        let iref = full("iref", 0, box("cdsc", [0, 2, 0, 1, 0, 1]))
        let metaLength =
            12 + hdlr.count + pitm.count + iloc(0).count + iinf.count + box("iprp", ipco + ipma).count
            + iref.count + idat.count
        let mdatOffset = ftyp.count + metaLength + 8
        let meta = full("meta", 0, hdlr + pitm + iloc(mdatOffset) + iinf + box("iprp", ipco + ipma) + iref + idat)
        return ftyp + meta + box("mdat", pixels)
    }
}
