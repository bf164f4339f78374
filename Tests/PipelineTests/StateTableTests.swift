import Foundation
import TestSupport
import XCTest

/// Issue 28: the live publications kept as a table beside the events (SQLite here, PostgreSQL in
/// `PostgresStateTableTests`): changed with the events, made from the events for a ledger from before it, read by
/// runs, and checked against the events by `audit verify`.
final class StateTableTests: PipelineTestCase {
    func testATamperedLivePublicationsTableFailsAuditVerify() throws { try tamperedStateFailsAuditVerify() }

    func testARunReadsTheKeptTableAndWithdrawsWhatItDoesNotList() throws {
        try runReadsTheKeptTable(withdrawn: true)
    }

    func testALedgerFromBeforeTheTableIsFilledFromItsEventsByTheNextRunOnly() throws {
        let published = try publishOne("a")
        _ = try sql("DROP TABLE live_publications")
        _ = try sql("PRAGMA user_version = 0")
        // Commands that only read (audit verify, a dry run) answer from the events and change nothing.
        XCTAssertEqual(try auditVerify().status, 0)
        let dry = try runPipeline(["--dry-run"])
        XCTAssertEqual(dry.summary["retracted"] as? Int ?? 0, 0, "\(dry.summary)")
        XCTAssertEqual(try sql("PRAGMA user_version"), "0")
        // The next run brings the ledger up to date, and what was live stays live.
        let run = try runPipeline()
        XCTAssertEqual(run.status, 0, "\(run.summary)")
        XCTAssertEqual(try sql("PRAGMA user_version"), "1")
        XCTAssertEqual(try sql("SELECT name FROM live_publications"), published)
        XCTAssertEqual(files(folder("publish")), [published])
        XCTAssertEqual(try auditVerify().status, 0)
    }
}

extension PipelineTestCase {
    func auditVerify() throws -> Fixtures.Outcome {
        try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline])
    }

    /// Publishes the phone photo under a unique trailer; returns its published name.
    func publishOne(_ tag: String) throws -> String {
        let before = Set(files(folder("publish")))
        try drop("demo-phone-photo.jpg", as: "photo-\(tag).jpg", trailer: Array("tag-\(tag)".utf8))
        let result = try runPipeline()
        XCTAssertEqual(result.summary["published"] as? Int, 1, "\(result.summary)")
        return try XCTUnwrap(Set(files(folder("publish"))).subtracting(before).first)
    }

    func tamperedStateFailsAuditVerify() throws {
        _ = try publishOne("a")
        XCTAssertEqual(try sql("SELECT count(*) FROM live_publications"), "1")
        XCTAssertEqual(try auditVerify().status, 0)
        let asset = try sql("SELECT asset FROM live_publications")
        let tampering: [(what: String, edit: String)] = [
            ("records changed", "UPDATE live_publications SET records = '[\"AUTH-OTHER\"]'"),
            (
                "a stranger listed as live",
                "INSERT INTO live_publications (name, asset, pipeline, records, record_keys, at) VALUES "
                    + "('stranger.jpg', 'stranger', 'test-website', '[]', '[]', '2026-01-01T00:00:00.000Z')"
            ),
            ("the publication removed", "DELETE FROM live_publications"),
        ]
        for (what, edit) in tampering {
            let before = try sql("SELECT records FROM live_publications WHERE asset = '\(asset)'")
            _ = try sql(edit)
            let verify = try auditVerify()
            XCTAssertEqual(verify.status, 1, "audit verify missed: \(what)\n\(verify.output)")
            XCTAssertTrue(verify.text.contains("live publications table"), verify.output)
            // Put it back as it was.
            _ = try sql("DELETE FROM live_publications WHERE asset = 'stranger'")
            if !before.isEmpty {
                _ = try sql("UPDATE live_publications SET records = '\(before)' WHERE asset = '\(asset)'")
            }
            if what != "the publication removed" { XCTAssertEqual(try auditVerify().status, 0, what) }
        }
        // The decisions behind pending quarantines likewise.
        try drop("demo-before-consent.jpg", as: "waiting.jpg")
        XCTAssertEqual(try runPipeline().summary["quarantined"] as? Int, 1)
        XCTAssertEqual(try sql("SELECT count(*) FROM decisions WHERE latest_kind = 'quarantined'"), "1")
        _ = try sql("UPDATE decisions SET latest_kind = 'published' WHERE latest_kind = 'quarantined'")
        let verify = try auditVerify()
        XCTAssertEqual(verify.status, 1, verify.output)
        XCTAssertTrue(verify.text.contains("decisions table"), verify.output)
        // And when each record file was first seen (a retired key's records are judged by it).
        _ = try sql("UPDATE records_seen SET at = '2020-01-01T00:00:00.000Z'")
        let seen = try auditVerify()
        XCTAssertTrue(seen.text.contains("records seen table"), seen.output)
    }

    /// `withdrawn`: one host withdraws what the table does not list; with several hosts (PostgreSQL) a file named
    /// after an asset whose `published` event names it is taken for a delivery in flight and kept (the events
    /// say it is published). Either way `audit verify` names the difference.
    func runReadsTheKeptTable(withdrawn: Bool) throws {
        let published = try publishOne("a")
        _ = try sql("DELETE FROM live_publications")
        let run = try runPipeline()
        XCTAssertEqual(run.summary["retracted"] as? Int, withdrawn ? 1 : 0, "\(run.summary)")
        XCTAssertEqual(files(folder("publish")).contains(published), !withdrawn)
        let verify = try auditVerify()
        XCTAssertEqual(verify.status, 1, verify.output)
        XCTAssertTrue(verify.text.contains("live publications table"), verify.output)
    }
}
