import Foundation
import TestSupport
import XCTest

/// Issue 10: in a batch `strip`, a file that makes its reader crash costs that file only.
final class StripContainmentTests: XCTestCase {
    func testOneCrasherInABatchCostsOnlyItself() throws {
        setenv("CONSENTGATE_WORKER_TEST_HOOKS", "1", 1)
        defer { unsetenv("CONSENTGATE_WORKER_TEST_HOOKS") }
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
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
}
