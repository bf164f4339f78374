import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Fragmented MP4 in, regular movie out (issue 29 item 1): the samples of every `moof`/`traf`/`trun` are written as
/// one ordinary movie that decodes as the original does and presents the same (a consent recorded for the fragmented
/// original matches the copy).
final class ISOFragmentTests: MediaFolderTestCase {
    func decoded(_ file: String) throws -> String {
        let outcome = try Fixtures.run(
            try Fixtures.requireTool("ffmpeg"),
            ["-v", "error", "-i", file, "-map", "0:v:0?", "-map", "0:a:0?", "-f", "framemd5", "-"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let lines = outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertGreaterThan(lines.count, 10)
        return lines.joined(separator: "\n")
    }

    func testFragmentedMoviesAreWrittenAsRegularOnes() throws {
        let variants: [(name: String, video: [String], flags: String)] = [
            ("keyframes.mp4", ["-c:v", "libx264", "-bf", "2", "-g", "25"], "frag_keyframe+empty_moov"),
            ("moof-base.mp4", ["-c:v", "libx264", "-g", "10"], "frag_keyframe+empty_moov+default_base_moof"),
            ("mpeg4.mp4", ["-c:v", "mpeg4", "-g", "12"], "frag_keyframe+empty_moov+separate_moof"),
        ]
        for variant in variants {
            let input = path(variant.name)
            try ffmpeg(
                [
                    "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=3", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=3", "-metadata", "title=Jane Roe",
                ] + variant.video + ["-c:a", "aac", "-f", "mp4", "-movflags", variant.flags, input])
            let structure = try ISOStructure(source: try FileSource(path: input))
            XCTAssertTrue(structure.boxes.contains { $0.type == "moof" }, "\(variant.name) is fragmented")
            let output = path("clean-" + variant.name)
            let clean = try MediaFile(path: input).sanitize(to: output)
            try XCTUnwrap(clean.pending).commit()
            let types = try ISOStructure(source: try FileSource(path: output)).boxes.map(\.type)
            XCTAssertEqual(
                try ISOStructure(source: try FileSource(path: output)).boxes.filter { $0.depth == 0 }.map(\.type),
                ["ftyp", "mdat", "moov"], variant.name)
            XCTAssertFalse(types.contains { ["moof", "mvex", "mfra", "traf", "udta"].contains($0) }, "\(types)")
            XCTAssertTrue(types.contains("stss") || variant.name == "none", "key frames listed: \(types)")
            XCTAssertEqual(try decoded(input), try decoded(output), variant.name)
            XCTAssertEqual(
                try MediaFile(path: input).fingerprints().presentedSHA256,
                try MediaFile(path: output).fingerprints().presentedSHA256, variant.name)
            XCTAssertNil(try Data(contentsOf: URL(fileURLWithPath: output)).range(of: Data("Jane Roe".utf8)))
        }
    }
}
