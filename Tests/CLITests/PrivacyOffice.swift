import Foundation
import TestSupport
import XCTest

/// What the command tests share: a privacy office in a temporary folder, and the built binary to run.
class PrivacyOfficeTestCase: XCTestCase {
    var folder: URL!
    var auth: String { folder.appendingPathComponent("authorizations").path }
    var trust: String { folder.appendingPathComponent("trust.yml").path }
    var key: String { folder.appendingPathComponent("office.key").path }
    let photo = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path

    /// The office: `keys generate` writes office.key/.pub, and the printed trust entry, backdated so the key
    /// covers the tests, becomes trust.yml (mode 0644); an empty authorizations folder.
    override func setUpWithError() throws {
        folder = try Fixtures.temporaryFolder()
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("authorizations"), withIntermediateDirectories: true)
        let made = try cg(["keys", "generate", "--name", "office", "--dir", folder.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let entry = made.text.components(separatedBy: "Add this entry to the trust file:\n\n").last ?? ""
        try entry.replacingOccurrences(
            of: #"valid_from: "\d{4}-\d{2}-\d{2}""#, with: "valid_from: \"2020-01-01\"", options: .regularExpression
        ).write(toFile: trust, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(trust, 0o644), 0)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func cg(_ arguments: [String]) throws -> Fixtures.Outcome { try Fixtures.run(try Fixtures.consentgate, arguments) }
}
