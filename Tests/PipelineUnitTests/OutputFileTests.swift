import ByteKit
import Foundation
import XCTest

@testable import Pipeline

/// A copy or report written while something appears at its name (a long sanitize leaves time for that) never
/// replaces what appeared, unless --overwrite said so.
final class OutputFileTests: XCTestCase {
    func testACommitNeverReplacesWhatAppearedSinceTheCheck() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cg-out-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let final = folder.appendingPathComponent("clean.jpg").path
        XCTAssertNil(OutputFile.problem(final, overwrite: false))
        let pending = try FileIO.writePending(Array("ours".utf8), finalPath: final)
        try Data("someone else's".utf8).write(to: URL(fileURLWithPath: final))
        XCTAssertThrowsError(try OutputFile.commit(pending, overwrite: false))
        XCTAssertEqual(try String(contentsOfFile: final, encoding: .utf8), "someone else's")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["clean.jpg"], "temporary left")
        // With --overwrite (the file was checked to be a regular file) it is replaced.
        let again = try FileIO.writePending(Array("ours".utf8), finalPath: final)
        try OutputFile.commit(again, overwrite: true)
        XCTAssertEqual(try String(contentsOfFile: final, encoding: .utf8), "ours")
        // Nothing there: written.
        let fresh = folder.appendingPathComponent("new.jpg").path
        try OutputFile.commit(try FileIO.writePending(Array("new".utf8), finalPath: fresh), overwrite: false)
        XCTAssertEqual(try String(contentsOfFile: fresh, encoding: .utf8), "new")
    }
}
