import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// The movie rewriter (issue 22): a published movie is `ftyp`, one `mdat` of the kept samples and a rebuilt `moov`,
/// decodes as its input does and presents the same; one video and one audio track, the ones a player shows.
final class ISORewriterTests: MediaFolderTestCase {
    func topLevel(_ file: String) throws -> [String] {
        let structure = try ISOStructure(source: try FileSource(path: file))
        return structure.boxes.filter { $0.depth == 0 }.map(\.type)
    }

    func boxTypes(_ file: String) throws -> [String] {
        try ISOStructure(source: try FileSource(path: file)).boxes.map(\.type)
    }

    func streams(_ file: String) throws -> [String] {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffprobe"),
            ["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", file])
        return outcome.text.split(separator: "\n").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ", ")) }
    }

    func decoded(_ file: String, _ maps: [String] = ["0:v:0?", "0:a:0?"]) throws -> String {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffmpeg"),
            ["-v", "error", "-i", file] + maps.flatMap { ["-map", $0] } + ["-f", "framemd5", "-"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let lines = outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertFalse(lines.isEmpty, "nothing decoded from \(file)")
        return lines.joined(separator: "\n")
    }

    func contains(_ file: String, _ needle: String) throws -> Bool {
        try Data(contentsOf: URL(fileURLWithPath: file)).range(of: Data(needle.utf8)) != nil
    }

    @discardableResult
    func strip(_ input: String, _ output: String) throws -> SanitizedFile {
        let clean = try MediaFile(path: input).sanitize(to: output)
        try XCTUnwrap(clean.pending).commit()
        return clean
    }

    /// MP4 (moov last, and moov first), MOV (QuickTime, `wide` box) and 3GP: each rewritten into ftyp, mdat, moov
    /// with no free box anywhere, no byte of the dropped subtitle track, the same decode and the same presented
    /// fingerprint; a planted `free` box of text is gone, not zeroed.
    func testMoviesAreRewrittenFromTheirKeptSamples() throws {
        let subtitles = path("notes.srt")
        try "1\n00:00:00,000 --> 00:00:01,000\nPatient Jane Roe, ward 7\n".write(
            toFile: subtitles, atomically: true, encoding: .utf8)
        let variants: [(name: String, arguments: [String])] = [
            ("plain.mp4", ["-c:v", "libx264", "-bf", "2", "-c:a", "aac", "-c:s", "mov_text"]),
            ("fast.mp4", ["-c:v", "mpeg4", "-c:a", "aac", "-c:s", "mov_text", "-movflags", "+faststart"]),
            ("camera.mov", ["-c:v", "mpeg4", "-c:a", "pcm_s16le", "-c:s", "mov_text"]),
        ]
        for variant in variants {
            let input = path(variant.name)
            try ffmpeg(
                [
                    "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=2", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=2", "-i", subtitles, "-map", "0", "-map", "1", "-map", "2",
                    "-metadata", "title=Jane Roe after surgery",
                ] + variant.arguments + [input])
            // A free box of text after everything (some editors leave one): the in-place sanitizer kept it, zeroed.
            var bytes = try Fixtures.bytes(URL(fileURLWithPath: input))
            bytes += SyntheticISO.box("free", Array("Jane Roe, MRN 12345".utf8))
            try Data(bytes).write(to: URL(fileURLWithPath: input))
            XCTAssertTrue(try contains(input, "ward 7"), variant.name)
            let output = path("clean-" + variant.name)
            let clean = try strip(input, output)
            XCTAssertTrue(clean.removed.contains { $0.contains("tx3g") || $0.contains("text track") }, "\(variant.name): \(clean.removed)")
            let top = try topLevel(output)
            XCTAssertEqual(top, ["ftyp", "mdat", "moov"], variant.name)
            XCTAssertFalse(try boxTypes(output).contains { ["free", "skip", "wide", "udta", "meta"].contains($0) })
            XCTAssertFalse(try contains(output, "Jane Roe"), variant.name)
            XCTAssertFalse(try contains(output, "ward 7"), variant.name)
            XCTAssertLessThan(try Fixtures.bytes(URL(fileURLWithPath: output)).count, bytes.count, variant.name)
            XCTAssertEqual(try streams(output), ["video", "audio"], variant.name)
            XCTAssertEqual(try decoded(input), try decoded(output), variant.name)
            XCTAssertEqual(
                try MediaFile(path: input).fingerprints().presentedSHA256,
                try MediaFile(path: output).fingerprints().presentedSHA256, variant.name)
            // The output is itself a clean input: sanitizing it again changes nothing.
            let again = path("again-" + variant.name)
            try strip(output, again)
            XCTAssertEqual(try Fixtures.bytes(URL(fileURLWithPath: again)), try Fixtures.bytes(URL(fileURLWithPath: output)))
        }
    }

    /// The verifier requires the rewritten layout of a movie: a patched copy (the in-place sanitizer's output, free
    /// boxes and zeroed bytes where the dropped track was) is not accepted as one.
    func testTheVerifierRefusesAPatchedCopyOfAMovie() throws {
        let subtitles = path("s.srt")
        try "1\n00:00:00,000 --> 00:00:01,000\nJane Roe\n".write(toFile: subtitles, atomically: true, encoding: .utf8)
        let input = path("in.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-i", subtitles, "-map", "0", "-map", "1",
            "-c:v", "mpeg4", "-c:s", "mov_text", input,
        ])
        let source = try FileSource(path: input)
        let media = try ISOMedia(source: source)
        let pending = try ISOSanitizer.write(try ISOSanitizer.plan(media), from: source, to: path("patched.mp4"))
        defer { pending.discard() }
        let expected = try media.presentedSHA256()
        XCTAssertThrowsError(
            try ISOSanitizer.verify(try FileSource(path: pending.temporaryPath), size: source.count, expectedContent: expected)
        ) { error in
            XCTAssertTrue("\(error)".contains("rewritten movie") || "\(error)".contains("free"), "\(error)")
        }
        // The rewriter's output passes the same check.
        let rewritten = try MediaFile(path: input).sanitize(to: path("rewritten.mp4"))
        defer { rewritten.pending?.discard() }
        XCTAssertEqual(
            try ISOSanitizer.verify(
                try FileSource(path: try XCTUnwrap(rewritten.pending).temporaryPath), size: source.count,
                expectedContent: expected), expected)
    }

    /// Two enabled video tracks and two enabled audio tracks (a second angle, a commentary): players show the first
    /// of each, so only those are published; the others' samples are not in the output at all.
    func testOnlyThePresentedVideoAndAudioTracksArePublished() throws {
        let input = path("two.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i",
            "color=c=red:size=64x48:rate=10:duration=1", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
            "-f", "lavfi", "-i", "sine=frequency=880:duration=1", "-map", "0", "-map", "1", "-map", "2", "-map", "3",
            "-c:v", "mpeg4", "-c:a", "aac", "-disposition:v:0", "default", "-disposition:v:1", "default",
            "-disposition:a:0", "default", "-disposition:a:1", "default", input,
        ])
        let media = try ISOMedia(source: try FileSource(path: input))
        XCTAssertEqual(try media.tracks.map { try media.trackHeader($0).enabled }, [true, true, true, true])
        XCTAssertEqual(media.tracks.map(\.keep), [true, false, true, false])
        let output = path("one.mp4")
        let clean = try strip(input, output)
        XCTAssertEqual(clean.removed.filter { $0.contains("a second enabled") }.count, 2, "\(clean.removed)")
        XCTAssertEqual(try streams(output), ["video", "audio"])
        XCTAssertEqual(try decoded(output, ["0:v:0", "0:a:0"]), try decoded(input, ["0:v:0", "0:a:0"]))
        // Nothing of the second video: its frames decode differently from the first's and are not in the file.
        XCTAssertNotEqual(try decoded(input, ["0:v:1"]), try decoded(input, ["0:v:0"]))
        let second = try XCTUnwrap(media.tracks.first { $0.handler == "vide" && !$0.keep })
        let sample = try media.source.read(second.chunks[0].lowerBound..<min(second.chunks[0].upperBound, second.chunks[0].lowerBound + 64))
        XCTAssertNil(
            try Data(contentsOf: URL(fileURLWithPath: output)).range(of: Data(sample)), "a sample of the second video")
    }

    /// A disabled audio track is dropped (players do not play it), and the file published with its video.
    func testADisabledTrackIsDroppedNotPublished() throws {
        let input = path("clip.mp4")
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i",
            "sine=frequency=440:duration=1", "-c:v", "mpeg4", "-c:a", "aac", input,
        ])
        var bytes = try Fixtures.bytes(URL(fileURLWithPath: input))
        let tkhd = try XCTUnwrap(PresentedFingerprintTests.find("tkhd", in: bytes).last)
        bytes[tkhd + 3] &= 0xFE
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        let output = path("out.mp4")
        let clean = try strip(input, output)
        XCTAssertTrue(clean.removed.contains { $0.contains("disabled") }, "\(clean.removed)")
        XCTAssertEqual(try streams(output), ["video"])
        XCTAssertEqual(try decoded(output, ["0:v:0"]), try decoded(input, ["0:v:0"]))
    }
}
