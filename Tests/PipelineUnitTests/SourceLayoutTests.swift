import ConsentRecords
import Foundation
import TestSupport
import XCTest

/// Issue 28's structure: each reason code spelled once (`ConsentRecords/ReasonCode.swift`), no source file over
/// 400 lines, the ledger's and the pages' code in their folders.
final class SourceLayoutTests: XCTestCase {
    func swiftFiles(under folder: String) throws -> [URL] {
        let root = Fixtures.packageRoot.appendingPathComponent(folder)
        let walker = try XCTUnwrap(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        return walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
    }

    func testEachReasonCodeIsSpelledOnce() throws {
        // Codes of more than one word: a one-word code ("expired", "duplicate") is also an ordinary word or an
        // event kind.
        let codes = ReasonCode.allCases.map(\.rawValue).filter { $0.contains("_") }
        XCTAssertGreaterThan(codes.count, 15)
        var found: [String] = []
        for file in try swiftFiles(under: "Sources") where file.lastPathComponent != "ReasonCode.swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for code in codes where text.contains("\"\(code)\"") {
                found.append("\(file.lastPathComponent): \"\(code)\"")
            }
        }
        XCTAssertEqual(found, [], "reason codes spelled outside ReasonCode.swift (use ReasonCode's cases)")
    }

    func testNoSourceFileIsOver400LinesAndTheLedgerAndPagesHaveTheirFolders() throws {
        var long: [String] = []
        for file in try swiftFiles(under: "Sources") {
            let text = try String(contentsOf: file, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.count > 401 { long.append("\(file.lastPathComponent): \(lines.count - 1)") }
        }
        XCTAssertEqual(long, [])
        let pipeline = Fixtures.packageRoot.appendingPathComponent("Sources/Pipeline")
        for (folder, file) in [
            ("Ledger", "Ledger.swift"), ("Ledger", "PostgresLedger.swift"), ("Ledger", "LiveState.swift"),
            ("Pages", "AuditReport.swift"), ("Pages", "ReviewPage.swift"),
        ] {
            XCTAssertTrue(
                FileManager.default.fileExists(
                    atPath: pipeline.appendingPathComponent(folder).appendingPathComponent(file).path), file)
        }
    }
}
