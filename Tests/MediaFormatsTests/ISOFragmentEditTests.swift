import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// The fragmented movies issue 29 still refused: an edit list, a first fragment that does not start at decoding
/// time 0, samples both in the moov's tables and in fragments. Each is written as a regular movie that ffmpeg
/// decodes to the same frames at the same times (framemd5, timestamps included) and that presents the same.
final class ISOFragmentEditTests: MediaFolderTestCase {
    static let sources = [
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=3", "-f", "lavfi", "-i",
        "sine=frequency=440:duration=3", "-metadata", "title=Jane Roe", "-metadata", "comment=Room 12 Ward B",
    ]
    static let encode = ["-c:v", "libx264", "-bf", "2", "-g", "25", "-c:a", "aac"]

    func decoded(_ file: String) throws -> String {
        let outcome = try DecodeOracle.framemd5(try Fixtures.requireTool("ffmpeg"), file)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let lines = outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let video = lines.filter { $0.hasPrefix("0,") }
        let audio = lines.filter { $0.hasPrefix("1,") }
        XCTAssertTrue(!video.isEmpty && !audio.isEmpty, "video and audio")
        // Each stream's frames and times, in order; how the demuxer interleaves the two streams follows the file's
        // layout (one chunk per trun, in file order, where the original had moov chunks, then fragments).
        return (video + audio).joined(separator: "\n")
    }

    /// Strips `name` and checks the published movie against the original: a regular movie (no fragment left), the
    /// same decode, the same presented fingerprint, no planted metadata.
    func assertPublishedAsBefore(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let input = path(name)
        let output = path("clean-" + name)
        let clean = try MediaFile(path: input).sanitize(to: output)
        try XCTUnwrap(clean.pending, file: file, line: line).commit()
        let structure = try ISOStructure(source: try FileSource(path: output))
        XCTAssertEqual(structure.boxes.filter { $0.depth == 0 }.map(\.type), ["ftyp", "mdat", "moov"], name, file: file, line: line)
        XCTAssertFalse(structure.boxes.contains { ["moof", "mvex", "traf", "udta"].contains($0.type) }, name, file: file, line: line)
        XCTAssertEqual(try decoded(input), try decoded(output), "\(name) decodes otherwise", file: file, line: line)
        XCTAssertEqual(
            try MediaFile(path: input).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256, name, file: file, line: line)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        for needle in ["Jane Roe", "Room 12", "Lavf"] {
            XCTAssertNil(bytes.range(of: Data(needle.utf8)), "\(needle) in \(name)", file: file, line: line)
        }
    }

    /// The top-level boxes of `file`: (type, byte range).
    func topLevel(_ file: String) throws -> [(type: String, range: Range<Int>)] {
        try ISOStructure(source: try FileSource(path: file)).boxes.filter { $0.depth == 0 }.map {
            ($0.type, $0.offset..<($0.offset + $0.size))
        }
    }

    /// `source` without its first `count` fragments (moof and the mdat after it, and any styp/sidx before them): as a
    /// DASH init segment followed by later media segments.
    func dropFragments(_ source: String, _ count: Int, into name: String) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path(source)))
        var out = Data()
        var dropped = 0
        var dropping = false
        for box in try topLevel(path(source)) {
            if box.type == "moof" {
                dropping = dropped < count
                dropped += 1
            }
            if ["styp", "sidx"].contains(box.type) { dropping = dropped < count }
            if box.type == "mfra" { continue }
            if !dropping { out += bytes[box.range] }
        }
        try out.write(to: URL(fileURLWithPath: path(name)))
    }

    func edits(_ file: String) throws -> [[ISOMedia.Edit]] {
        let media = try ISOMedia(source: try FileSource(path: file))
        return try media.tracks.compactMap { track in
            try media.editList(track.box).flatMap { ISOMedia.edits(try media.payload($0)) }
        }
    }

    func testFragmentedMoviesWithEditLists() throws {
        // B-frames (a composition delay) and AAC priming: ffmpeg writes (0, 1024) for both tracks.
        try ffmpeg(Self.sources + Self.encode + ["-movflags", "frag_keyframe+delay_moov", path("delay.mp4")])
        // An output offset: an empty edit first in each track.
        try ffmpeg(
            Self.sources + Self.encode + [
                "-use_editlist", "1", "-output_ts_offset", "0.5", "-movflags", "frag_keyframe+delay_moov", path("offset.mp4"),
            ])
        // A trimmed copy: the edits start inside the first fragment.
        try ffmpeg(Self.sources + Self.encode + [path("regular.mp4")])
        try ffmpeg(["-ss", "0.7", "-i", path("regular.mp4"), "-c", "copy", "-metadata", "title=Jane Roe", "-movflags", "frag_keyframe+delay_moov", path("cut.mp4")])
        for name in ["delay.mp4", "offset.mp4", "cut.mp4"] {
            XCTAssertTrue(try topLevel(path(name)).contains { $0.type == "moof" }, name)
            XCTAssertFalse(try edits(path(name)).isEmpty, "\(name) has edit lists")
            try assertPublishedAsBefore(name)
        }
        XCTAssertTrue(try edits(path("offset.mp4")).allSatisfy { $0.first?.time == -1 }, "empty edits planted")
    }

    func testFragmentedMoviesStartingLate() throws {
        // A fragmented movie without its first fragment: each track's first tfdt is past 0 (1 s of video, 0.95 s of
        // audio), once with edit lists and once without.
        // (Offsets from each moof, so that the fragments can be cut out.)
        try ffmpeg(
            Self.sources + Self.encode + ["-movflags", "frag_keyframe+delay_moov+default_base_moof", path("delay.mp4")])
        try ffmpeg(Self.sources + Self.encode + ["-movflags", "frag_keyframe+empty_moov+default_base_moof", path("empty.mp4")])
        try ffmpeg(Self.sources + Self.encode + ["-movflags", "+dash+cmaf", path("cmaf.mp4")])
        try dropFragments("delay.mp4", 1, into: "late-delay.mp4")
        try dropFragments("empty.mp4", 1, into: "late-empty.mp4")
        try dropFragments("cmaf.mp4", 1, into: "late-cmaf.mp4")
        for name in ["late-delay.mp4", "late-empty.mp4", "late-cmaf.mp4"] {
            let media = try ISOMedia(source: try FileSource(path: path(name)))
            XCTAssertTrue(media.tracks.allSatisfy { $0.fragmentStart > 0 }, "\(name) starts late")
            try assertPublishedAsBefore(name)
        }
        // CMAF from the start: negative composition offsets, which ffmpeg shows later in a fragmented track (by the
        // largest of them) and not in a regular one: the copy needs an empty edit.
        try assertPublishedAsBefore("cmaf.mp4")
    }

    func testSamplesInTheMovieAndInFragments() throws {
        // Without empty_moov ffmpeg writes the first fragment's samples into the moov's tables.
        try ffmpeg(Self.sources + Self.encode + ["-movflags", "+frag_keyframe", path("keyframe.mp4")])
        try ffmpeg(Self.sources + Self.encode + ["-frag_duration", "400000", path("duration.mp4")])
        for name in ["keyframe.mp4", "duration.mp4"] {
            let media = try ISOMedia(source: try FileSource(path: path(name)))
            XCTAssertTrue(
                try media.tracks.contains { try media.sampleCount($0) > 0 }, "\(name) has samples in its moov too")
            XCTAssertTrue(try topLevel(path(name)).contains { $0.type == "moof" }, name)
            try assertPublishedAsBefore(name)
        }
    }

    func testOneFragmentPerFrame() throws {
        // frag_every_frame: the moov holds the first samples, then one fragment per frame. Video alone is published.
        try ffmpeg(Self.sources + ["-an"] + Self.encode + ["-movflags", "+frag_every_frame", path("every-video.mp4")])
        let media = try ISOMedia(source: try FileSource(path: path("every-video.mp4")))
        XCTAssertTrue(try media.tracks.contains { try media.sampleCount($0) > 0 }, "samples in the moov too")
        let output = path("clean-every-video.mp4")
        try XCTUnwrap(try MediaFile(path: path("every-video.mp4")).sanitize(to: output).pending).commit()
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        XCTAssertEqual(try DecodeOracle.framemd5(ffmpeg, path("every-video.mp4")).text, try DecodeOracle.framemd5(ffmpeg, output).text)
        XCTAssertEqual(
            try MediaFile(path: path("every-video.mp4")).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256)
        // With sound, ffmpeg 5.1 writes fragments whose sample of no duration shares its time with the next one; ffmpeg
        // decodes both and plays one, a regular copy would play both: refused, with the reason.
        // (Another ffmpeg may write them otherwise: then the copy must play as the original.)
        try self.ffmpeg(Self.sources + Self.encode + ["-movflags", "+frag_every_frame", path("every.mp4")])
        do {
            try assertPublishedAsBefore("every.mp4")
        } catch {
            XCTAssertTrue("\(error)".contains("two samples at decoding time"), "\(error)")
        }
    }

    /// Edit shapes that a fragmented and a regular reading cannot agree on are refused, saying which.
    func testEditShapesPlayersReadDifferentlyAreRefused() throws {
        try ffmpeg(Self.sources + Self.encode + ["-movflags", "frag_keyframe+delay_moov", path("delay.mp4")])
        let original = try Data(contentsOf: URL(fileURLWithPath: path("delay.mp4")))
        let elst = try XCTUnwrap(try ISOStructure(source: try FileSource(path: path("delay.mp4"))).boxes.first { $0.type == "elst" })
        XCTAssertEqual(original[elst.payload.lowerBound], 0, "a version 0 edit list")
        let entry = elst.payload.lowerBound + 8
        // (byte offset in the first entry, new bytes, the reason expected)
        let shapes: [(at: Int, bytes: [UInt8], reason: String)] = [
            (entry + 8, [0, 0, 0, 0], "rate 0"),  // a dwell
            (entry, [0, 0, 0, 100], "ends before its samples do"),  // 100 ms of a 3 s track
        ]
        for (number, shape) in shapes.enumerated() {
            var bytes = original
            bytes.replaceSubrange(shape.at..<(shape.at + 4), with: shape.bytes)
            let name = "shape\(number).mp4"
            try bytes.write(to: URL(fileURLWithPath: path(name)))
            XCTAssertThrowsError(try MediaFile(path: path(name)).sanitize(to: path("clean-" + name))) { error in
                XCTAssertTrue("\(error)".contains(shape.reason), "\(error)")
            }
        }
    }
}
