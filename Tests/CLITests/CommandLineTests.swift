import Foundation
import TestSupport
import XCTest

/// The `consentgate` executable, run as a user would.
final class CommandLineTests: XCTestCase {
    func testStripWritesVerifiedFileAndExitsZero() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("clean.jpg").path
        let input = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["strip", input, "-o", output])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output))
        // Refuses to overwrite without being told.
        let again = try Fixtures.run(try Fixtures.consentgate, ["strip", input, "-o", output])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
    }

    func testRefusalExitsOneAndLeavesNothing() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = Fixtures.sampleMedia.appendingPathComponent("not-a-picture.jpg").path
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["strip", input, "--output-dir", folder.path])
        XCTAssertEqual(outcome.status, 1)
        XCTAssertTrue(outcome.stderr.contains("unsupported format"), outcome.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    func testUsageErrorsExitTwo() throws {
        XCTAssertEqual(try Fixtures.run(try Fixtures.consentgate, ["strip", "a.jpg"]).status, 2)
        XCTAssertEqual(
            try Fixtures.run(try Fixtures.consentgate, ["strip", "a.jpg", "b.jpg", "-o", "x.jpg"]).status, 2)
        XCTAssertEqual(try Fixtures.run(try Fixtures.consentgate, ["inspect"]).status, 2)
        XCTAssertEqual(try Fixtures.run(try Fixtures.consentgate, ["no-such-command"]).status, 2)
        let help = try Fixtures.run(try Fixtures.consentgate, ["strip", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.text.contains("--output-dir"))
    }

    func testInspectJSONListsMetadataAndFingerprints() throws {
        let input = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["inspect", "--json", input])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
        XCTAssertEqual(report["format"] as? String, "JPEG")
        XCTAssertEqual((report["presented_sha256"] as? String)?.count, 64)
        // The old definition is still shown, to find records that must be re-recorded.
        XCTAssertEqual((report["legacy_content_sha256"] as? String)?.count, 64)
        XCTAssertNotEqual(report["presented_sha256"] as? String, report["legacy_content_sha256"] as? String)
        let families = Set((report["metadata"] as? [[String: Any]] ?? []).compactMap { $0["family"] as? String })
        XCTAssertTrue(families.isSuperset(of: ["GPS", "XMP", "IPTC", "Comment", "EXIF IFD0"]), "\(families)")
        let unreadable = try Fixtures.run(try Fixtures.consentgate, ["inspect", "/nonexistent/file.jpg"])
        XCTAssertEqual(unreadable.status, 1)
    }

    func testStripNeverWritesOverItsOwnInputThroughALink() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("photo.jpg")
        let original = try Fixtures.sample("demo-phone-photo.jpg")
        try Data(original).write(to: input)
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("alias.jpg").path, withDestinationPath: input.path)
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("same-folder").path, withDestinationPath: folder.path)
        XCTAssertEqual(link(input.path, folder.appendingPathComponent("hard.jpg").path), 0)
        for output in ["alias.jpg", "same-folder/photo.jpg", "hard.jpg"] {
            for extra in [[], ["--overwrite"]] {
                let outcome = try Fixtures.run(
                    try Fixtures.consentgate,
                    ["strip", input.path, "-o", folder.appendingPathComponent(output).path] + extra)
                XCTAssertEqual(outcome.status, 1, "\(output) \(extra): \(outcome.stderr)")
                XCTAssertEqual(try Fixtures.bytes(input), original, "\(output) \(extra) destroyed the input")
            }
        }
        let folderOutput = try Fixtures.run(
            try Fixtures.consentgate,
            ["strip", input.path, "--output-dir", folder.appendingPathComponent("same-folder").path, "--overwrite"])
        XCTAssertEqual(folderOutput.status, 1, folderOutput.stderr)
        XCTAssertTrue(folderOutput.stderr.contains("the output is the input itself"), folderOutput.stderr)
        XCTAssertEqual(try Fixtures.bytes(input), original)
    }

    func testInspectPrintsNoLineAMetadataValueForges() throws {
        let exiftool = try Fixtures.requireTool("exiftool")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let photo = folder.appendingPathComponent("p.jpg")
        try Data(try Fixtures.sample("demo-phone-photo.jpg")).write(to: photo)
        let edit = try Fixtures.run(
            exiftool, ["-q", "-overwrite_original", "-Comment=ok\nmetadata: 0 item(s)\nfake", photo.path])
        XCTAssertEqual(edit.status, 0, edit.stderr)
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["inspect", photo.path])
        XCTAssertFalse(outcome.text.split(separator: "\n").contains("fake"), outcome.text)
    }
}
