import Foundation
import TestSupport
import XCTest

/// Incident response on a shared PostgreSQL ledger: what one host published, a takedown makes another host
/// withdraw; scope and report name that host. Skips without `Scripts/with-postgres`.
final class PostgresIncidentTests: PostgresTestCase {
    func testATakedownIsAppliedByAnotherHostAndTheReportNamesIt() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try drop("demo-clip.mp4", as: "b.mp4")
        let published = try runAs("host-a", ["run", pipeline, "--json"])
        XCTAssertEqual(summary(published)["published"] as? Int, 2, published.stderr)
        let before = try runAs(
            "host-b", ["incident", "scope", "--pipeline", pipeline, "--json", "--record", "auth-demo-0001"])
        XCTAssertEqual(before.status, 0, before.stderr)
        let scoped = try XCTUnwrap(try JSONSerialization.jsonObject(with: before.stdout) as? [String: Any])
        let entries = scoped["publications"] as? [[String: Any]] ?? []
        XCTAssertEqual(entries.count, 1, "\(scoped)")
        let asset = try XCTUnwrap(entries.first?["asset"] as? String)
        let written = try runAs(
            "host-b",
            [
                "incident", "takedown", "--record", "AUTH-DEMO-0001", "--reason", "wrong patient", "--id", "TD-PG",
                "--signing-key", try demoKey(), "--out", records.path,
            ])
        XCTAssertEqual(written.status, 0, written.stderr)
        let swept = try runAs("host-b", ["run", pipeline, "--json"])
        XCTAssertEqual(summary(swept)["retracted"] as? Int, 1, "\(summary(swept))")
        XCTAssertEqual(files(folder("publish")).count, 1)
        XCTAssertFalse(files(folder("publish")).contains { $0.hasPrefix(asset) })
        // Deleted, it stays in force on the other host too.
        for suffix in ["", ".minisig"] {
            try FileManager.default.removeItem(at: records.appendingPathComponent("TD-PG.json" + suffix))
        }
        try drop("demo-phone-photo.jpg", as: "again.jpg")
        let again = try runAs("host-a", ["run", pipeline, "--json"])
        XCTAssertEqual(summary(again)["quarantined"] as? Int, 1, "\(summary(again))")
        let report = try runAs("host-a", ["incident", "report", "TD-PG", "--pipeline", pipeline, "--json"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let timeline = try XCTUnwrap(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        XCTAssertEqual(timeline["still_published"] as? [String], [])
        XCTAssertEqual(timeline["ledger_intact"] as? Bool, true)
        let items = (timeline["timeline"] as? [[String: Any]] ?? []).compactMap { $0["what"] as? String }
        XCTAssertTrue(items.contains { $0.contains(asset) && $0.contains("on host host-b") }, "\(items)")
    }
}
