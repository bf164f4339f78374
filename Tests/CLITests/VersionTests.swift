import Foundation
import TestSupport
import XCTest

/// `consentgate --version`: the one version written in Sources/consentgate/Version.swift (Scripts/package reads the
/// same line for the Debian package and the man pages).
final class VersionTests: XCTestCase {
    func testVersionPrintsTheVersionFromVersionSwiftAndExitsZero() throws {
        let source = try String(
            contentsOf: Fixtures.packageRoot.appendingPathComponent("Sources/consentgate/Version.swift"),
            encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"static let current = "([0-9]+\.[0-9]+\.[0-9]+)""#)
        let match = try XCTUnwrap(
            pattern.firstMatch(in: source, range: NSRange(source.startIndex..., in: source)),
            "Version.swift must hold `static let current = \"X.Y.Z\"` (Scripts/package reads that line)")
        let written = String(source[Range(match.range(at: 1), in: source)!])
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["--version"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(outcome.text.trimmingCharacters(in: .whitespacesAndNewlines), written)
        XCTAssertEqual(outcome.stderr, "")
    }
}
