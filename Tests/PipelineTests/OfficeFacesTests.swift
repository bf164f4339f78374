import Foundation
import TestSupport
import XCTest

/// The office's cards count the people as the gate does (issues #24 and #26): a group picture whose faces outnumber
/// its consents says how many are missing even when no record declares `people_in_frame`.
final class OfficeFacesTests: PipelineTestCase {
    func testTheExportCountsTheFacesTheGateFound() throws {
        let inspect = try Fixtures.run(
            try Fixtures.consentgate,
            ["inspect", "--json", Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let report = try XCTUnwrap((try JSONSerialization.jsonObject(with: inspect.stdout)) as? [String: Any])
        let content = try XCTUnwrap(report["presented_sha256"] as? String)
        let authorized = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--subject", "P-FACE-1", "--channels", "website",
                "--effective", "2026-01-01", "--expires", "2036-01-01", "--out", records.path, "--id", "AUTH-P-FACE-1",
                "--presented-sha256", content,
            ])
        XCTAssertEqual(authorized.status, 0, authorized.stderr)
        try drop("faces-group-of-three.jpg", as: "group.jpg")
        XCTAssertEqual(try runPipeline().summary["quarantined"] as? Int, 1)

        let export = root.appendingPathComponent("office-export")
        let made = try Fixtures.run(try Fixtures.consentgate, ["review", "--pipeline", pipeline, "--export", export.path])
        XCTAssertEqual(made.status, 0, made.output)
        let data = try Data(contentsOf: export.appendingPathComponent("cards.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let card = try XCTUnwrap((json["cards"] as? [[String: Any]])?.first)
        XCTAssertEqual(card["faces_found"] as? Int, 3, "\(card)")
        let consent = try XCTUnwrap(card["consent"] as? [String: Any])
        XCTAssertEqual(consent["required"] as? Int, 3, "\(consent)")
        XCTAssertEqual(consent["missing"] as? Int, 2, "\(consent)")
        XCTAssertEqual(consent["consented"] as? [String], ["P-FACE-1"])
    }
}
