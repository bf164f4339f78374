import Foundation
import TestSupport
import XCTest

/// Issue 10: in a batch `strip`, a file that makes its reader crash costs that file only.
final class StripContainmentTests: XCTestCase {
    /// A temporary folder holding an empty `out` folder, with the workers' test hooks on, both until the test ends.
    func hookedFolders() throws -> (folder: URL, out: URL) {
        setenv("CONSENTGATE_WORKER_TEST_HOOKS", "1", 1)
        let folder = try Fixtures.temporaryFolder()
        addTeardownBlock {
            unsetenv("CONSENTGATE_WORKER_TEST_HOOKS")
            try? FileManager.default.removeItem(at: folder)
        }
        let out = folder.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        return (folder, out)
    }

    func testOneCrasherInABatchCostsOnlyItself() throws {
        let (folder, out) = try hookedFolders()
        var inputs: [String] = []
        let picture = try Fixtures.sample("demo-phone-photo.jpg")
        for index in 0..<12 {
            let path = folder.appendingPathComponent("photo\(index).jpg").path
            var bytes = picture
            if index == 5 {
                // A comment right after SOI carrying the test marker: the reader crashes on it (SIGSEGV).
                let text = Array("CONSENTGATE-TEST-CRASH".utf8)
                bytes.insert(contentsOf: [0xFF, 0xFE, 0, UInt8(text.count + 2)] + text, at: 2)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            inputs.append(path)
        }
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["strip"] + inputs + ["--output-dir", out.path])
        XCTAssertEqual(outcome.status, 1, outcome.output)
        let written = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(written.count, 11, "every other file is written: \(written)")
        XCTAssertFalse(written.contains("photo5.jpg"))
        XCTAssertTrue(
            outcome.stderr.contains("could not be read safely: the reader crashed (SIGSEGV)"), outcome.stderr)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix(".") }, [],
            "no temporary file left behind")
    }

    /// Issue 14: `strip` starts the verifier before the original's fingerprint is known and compares the two
    /// itself. A reader that lies about the original (as one a crafted file took over could) gets nothing written:
    /// the copy does not present what the reader said.
    func testALyingFingerprintReaderGetsNothingWritten() throws {
        let (folder, out) = try hookedFolders()
        var bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let text = Array("CONSENTGATE-TEST-LIE".utf8)
        bytes.insert(contentsOf: [0xFF, 0xFE, 0, UInt8(text.count + 2)] + text, at: 2)
        let liar = folder.appendingPathComponent("liar.jpg").path
        try Data(bytes).write(to: URL(fileURLWithPath: liar))
        let honest = folder.appendingPathComponent("honest.jpg").path
        try Data(try Fixtures.sample("demo-phone-photo.jpg")).write(to: URL(fileURLWithPath: honest))
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["strip", liar, honest, "--output-dir", out.path])
        XCTAssertEqual(outcome.status, 1, outcome.output)
        XCTAssertTrue(
            outcome.stderr.contains("the written copy does not present what the original presents"), outcome.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["honest.jpg"])
        // The same reader lying about a video.
        var clip = try Fixtures.sample("demo-clip.mp4")
        // A free box carrying the marker after the movie's boxes (nothing moves; the copy zeroes it).
        let free = Array("CONSENTGATE-TEST-LIE".utf8)
        clip += [0, 0, 0, UInt8(free.count + 8)] + Array("free".utf8) + free
        let video = folder.appendingPathComponent("liar.mp4").path
        try Data(clip).write(to: URL(fileURLWithPath: video))
        let second = try Fixtures.run(try Fixtures.consentgate, ["strip", video, "--output-dir", out.path])
        XCTAssertEqual(second.status, 1, second.output)
        XCTAssertTrue(
            second.stderr.contains("the written copy does not present what the original presents"), second.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["honest.jpg"])
        // With --drop-icc the verifier itself compares a video with the reader's fingerprint (the writer does not).
        let third = try Fixtures.run(
            try Fixtures.consentgate, ["strip", "--drop-icc", video, "--output-dir", out.path])
        XCTAssertEqual(third.status, 1, third.output)
        XCTAssertTrue(third.stderr.contains("presents something else"), third.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["honest.jpg"])
    }
}
