import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// Sanitized demo files judged by independent decoders (ffmpeg, djpeg): same pixels as the input.
final class DecoderOracleTests: XCTestCase {
    func testYCCKPictureKeepsItsColours() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let djpeg = try Fixtures.requireTool("djpeg")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = Fixtures.sampleMedia.appendingPathComponent("demo-ycck-print.jpg").path
        let output = folder.appendingPathComponent("clean.jpg").path
        XCTAssertEqual(try Fixtures.run(try Fixtures.consentgate, ["strip", input, "-o", output]).status, 0)
        XCTAssertFalse(
            String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).contains("Demo-Doe"))
        for decoder in [(ffmpeg, ["-v", "error", "-i"], ["-f", "framemd5", "-"]), (djpeg, [], [])] {
            let before = try Fixtures.run(decoder.0, decoder.1 + [input] + decoder.2)
            let after = try Fixtures.run(decoder.0, decoder.1 + [output] + decoder.2)
            XCTAssertEqual(before.status, 0)
            XCTAssertEqual(before.stdout, after.stdout, "\(decoder.0) decodes different pixels after stripping")
        }
    }

    /// Every movie of the shared corpus that `strip` publishes decodes (first video and audio stream) as before.
    func testCorpusMoviesDecodeTheSameAfterStrip() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let corpus = try Fixtures.requireCorpus()
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let movies = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted().filter {
            ["mp4", "mov", "m4v", "m4a", "3gp"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased())
        }
        var compared = 0
        for name in movies {
            let input = corpus.appendingPathComponent(name)
            // Only what ffmpeg itself decodes can be compared.
            guard try DecodeOracle.framemd5(ffmpeg, input.path).status == 0 else { continue }
            let output = folder.appendingPathComponent(name)
            guard try DecodeOracle.strip(input, output).status == 0 else { continue }  // refusals are judged elsewhere
            try DecodeOracle.assertSameDecode(ffmpeg, input, output)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 0, "no corpus movie was published to compare")
    }
}
