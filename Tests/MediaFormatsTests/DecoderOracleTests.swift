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
}
