import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Physical trimming (issue 22 item 2): a movie whose edit list hides samples is published with only the samples a
/// viewer needs (video from the key frame before the first shown frame, audio with its pre-roll), the edit list
/// rewritten to show exactly the same, the hidden lead-in bounded by `max_hidden_lead_in_seconds`; the presented
/// fingerprint of the trimmed copy is the original's. ffmpeg honouring the edit lists is the oracle.
final class ISOTrimTests: MediaFolderTestCase {
    /// A 6 s H.264 + AAC clip with a key frame every second (or every `gop` frames at 25 fps).
    func clip(_ name: String, seconds: Int = 6, gop: Int = 25) throws -> String {
        let output = path(name)
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=\(seconds)", "-f", "lavfi", "-i",
            "sine=frequency=440:duration=\(seconds)", "-c:v", "libx264", "-g", "\(gop)", "-keyint_min", "\(gop)",
            // No perceptual noise substitution: its decoder draws noise from a generator that runs from the first
            // frame decoded, so a trimmed stream would decode to other noise (inaudibly, but not bit for bit).
            "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-aac_pns", "0", "-shortest", output,
        ])
        return output
    }

    /// framemd5 of the first video and first audio stream, edit lists honoured (ffmpeg's default).
    func decoded(_ file: String) throws -> [String] {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffmpeg"),
            ["-v", "error", "-i", file, "-map", "0:v:0?", "-map", "0:a:0?", "-f", "framemd5", "-"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let lines = outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        XCTAssertFalse(lines.isEmpty)
        return lines
    }

    func sampleCounts(_ file: String) throws -> [Int] {
        let media = try ISOMedia(source: try FileSource(path: file))
        return try media.tracks.filter(\.keep).map { try media.sampleCount($0) }
    }

    /// Strips `input` (the default bound unless given); asserts the copy decodes as the input does (edit lists
    /// honoured) and presents the same; returns the copy's path and what was removed.
    @discardableResult
    func stripAndCompare(_ input: String, bound: Double? = nil) throws -> (path: String, removed: [String]) {
        let output = path("clean-" + URL(fileURLWithPath: input).lastPathComponent)
        let clean = try MediaFile(path: input).sanitize(
            to: output, options: SanitizeOptions(maxHiddenLeadInSeconds: bound))
        try XCTUnwrap(clean.pending).commit()
        let before = try decoded(input)
        let after = try decoded(output)
        if before != after {
            let at = (0..<min(before.count, after.count)).first { before[$0] != after[$0] } ?? min(before.count, after.count)
            XCTFail(
                "\(input) decodes differently after the trim: \(before.count) vs \(after.count) frames, first difference "
                    + "at \(at): \(before.dropFirst(at).first ?? "-") / \(after.dropFirst(at).first ?? "-")")
        }
        XCTAssertEqual(
            try MediaFile(path: input).fingerprints().presentedSHA256,
            try MediaFile(path: output).fingerprints().presentedSHA256, "the trimmed copy presents something else")
        return (output, clean.removed)
    }

    /// Sets the first edit of track `track` (file order) to `duration` movie ticks from `mediaTime` media ticks.
    static func edit(_ bytes: [UInt8], track: Int, duration: Int, mediaTime: Int) throws -> [UInt8] {
        var bytes = bytes
        let lists = PresentedFingerprintTests.find("elst", in: bytes)
        let at = try XCTUnwrap(lists.dropFirst(track).first)
        let wide = bytes[at] == 1
        let width = wide ? 8 : 4
        bytes.replaceSubrange((at + 8)..<(at + 8 + width), with: Bytes.put(duration, width))
        bytes.replaceSubrange((at + 8 + width)..<(at + 8 + 2 * width), with: Bytes.put(mediaTime, width))
        return bytes
    }

    static func timescale(_ file: String, track: Int) throws -> Int {
        let media = try ISOMedia(source: try FileSource(path: file))
        return try media.mediaTimescale(media.tracks[track])
    }

    /// `ffmpeg -ss 2.3 -i in.mp4 -t 2 -c copy`: the cut keeps the frames from the key frame at 2 s behind an edit
    /// list (0.3 s of lead-in): published (it was refused), trimmed, the same frames shown.
    func testAnFFmpegCutIsPublishedWithItsLeadIn() throws {
        let input = try clip("in.mp4")
        let cut = path("cut.mp4")
        try ffmpeg(["-ss", "2.3", "-i", input, "-t", "2", "-c", "copy", cut])
        let (output, removed) = try stripAndCompare(cut)
        XCTAssertTrue(removed.contains { $0.contains("(video)") && $0.contains("hidden lead-in kept") }, "\(removed)")
        let before = try sampleCounts(cut)
        let after = try sampleCounts(output)
        XCTAssertLessThanOrEqual(after[0], before[0])
        // Bound 0 refuses any hidden frame, as before.
        XCTAssertThrowsError(
            try MediaFile(path: cut).sanitize(to: nil, options: SanitizeOptions(maxHiddenLeadInSeconds: 0))
        ) { error in
            XCTAssertTrue("\(error)".contains("hidden lead-in"), "\(error)")
            XCTAssertTrue("\(error)".contains("the bound is 0.00 s"), "\(error)")
        }
    }

    /// An edit list that shows 3 s of a 6 s clip (the middle: from 2.5 s) keeps only those seconds, their lead-in
    /// from the key frame at 2 s and the audio's pre-roll; the copy's edit list shows the same.
    func testAnEditListShowingThreeOfSixSecondsIsTrimmedPhysically() throws {
        let input = try clip("six.mp4")
        let videoScale = try Self.timescale(input, track: 0)
        let audioScale = try Self.timescale(input, track: 1)
        var bytes = try Fixtures.bytes(URL(fileURLWithPath: input))
        // The movie timescale of ffmpeg's MP4 is 1000.
        bytes = try Self.edit(bytes, track: 0, duration: 3000, mediaTime: videoScale * 5 / 2 + videoScale * 2 / 25)
        bytes = try Self.edit(bytes, track: 1, duration: 3000, mediaTime: audioScale * 5 / 2)
        let middle = path("middle.mp4")
        try Data(bytes).write(to: URL(fileURLWithPath: middle))
        let (output, removed) = try stripAndCompare(middle)
        XCTAssertTrue(removed.contains { $0.contains("(video)") && $0.contains("trimmed") }, "\(removed)")
        XCTAssertTrue(removed.contains { $0.contains("(audio)") && $0.contains("trimmed") }, "\(removed)")
        let before = try sampleCounts(middle)
        let after = try sampleCounts(output)
        // 150 frames in, 3.5 s of them out (from the key frame at 2 s), give or take the B-frame reordering.
        XCTAssertEqual(before[0], 150)
        XCTAssertTrue((85...92).contains(after[0]), "\(after)")
        XCTAssertLessThan(after[1], before[1] * 6 / 10, "\(after) of \(before)")
        // Trimming the copy again changes nothing.
        let again = path("again.mp4")
        let second = try MediaFile(path: output).sanitize(to: again)
        try XCTUnwrap(second.pending).commit()
        XCTAssertEqual(try sampleCounts(again), after)
        // The same edit from the start of the clip, showing the first 3 s: no lead-in, the tail trimmed.
        var first = try Fixtures.bytes(URL(fileURLWithPath: input))
        first = try PresentedFingerprintTests.trimmingEditLists(first, to: 3)
        let head = path("head.mp4")
        try Data(first).write(to: URL(fileURLWithPath: head))
        let trimmedHead = try stripAndCompare(head)
        XCTAssertLessThan(try sampleCounts(trimmedHead.path)[0], 80)
    }

    /// An iPhone-like clip whose audio edit list hides 0.83 s at its start: the audio is cut to the edit plus the
    /// AAC pre-roll, the video untouched; the same sound is played.
    func testAudioHiddenByItsEditListIsCut() throws {
        let input = try clip("phone.mov")
        let audioScale = try Self.timescale(input, track: 1)
        var bytes = try Fixtures.bytes(URL(fileURLWithPath: input))
        bytes = try Self.edit(bytes, track: 1, duration: 5000, mediaTime: audioScale * 83 / 100)
        let phone = path("phone-edit.mov")
        try Data(bytes).write(to: URL(fileURLWithPath: phone))
        let (output, removed) = try stripAndCompare(phone)
        XCTAssertTrue(removed.contains { $0.contains("(audio)") && $0.contains("trimmed") }, "\(removed)")
        let before = try sampleCounts(phone)
        let after = try sampleCounts(output)
        XCTAssertEqual(after[0], before[0], "the video is shown whole")
        XCTAssertLessThan(after[1], before[1] - 30, "\(after) of \(before)")
    }

    /// A cut in the middle of a long GOP needs more lead-in than the bound: refused, saying how much and why.
    func testACutMidGOPBeyondTheBoundIsRefusedWithTheReason() throws {
        let input = try clip("long-gop.mp4", seconds: 8, gop: 250)
        let cut = path("mid.mp4")
        try ffmpeg(["-ss", "5.4", "-i", input, "-t", "1", "-c", "copy", cut])
        XCTAssertThrowsError(try MediaFile(path: cut).sanitize(to: nil)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("the video needs 5.4"), text)
            XCTAssertTrue(text.contains("hidden lead-in before its first shown frame (the key frame at 0.0"), text)
            XCTAssertTrue(text.contains("the bound is 2.00 s"), text)
        }
        // A larger bound publishes it.
        try stripAndCompare(cut, bound: 6)
    }
}
