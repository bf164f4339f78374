import Foundation
import TestSupport
import XCTest

/// `StateTableTests` on the PostgreSQL ledger, and `ledger init` bringing a schema from before the state tables up to
/// date.
final class PostgresStateTableTests: PostgresTestCase {
    func testATamperedLivePublicationsTableFailsAuditVerify() throws { try tamperedStateFailsAuditVerify() }

    func testAPublicationMissingFromTheTableIsKeptByItsEventsAndFoundByAuditVerify() throws {
        try runReadsTheKeptTable(withdrawn: false)
    }

    func testLedgerInitFillsTheTableOfALedgerFromBeforeIt() throws {
        let published = try publishOne("a")
        try admin("DELETE FROM live_publications")
        try admin("UPDATE state_version SET version = 0")
        // Until then the hosts answer from the events: nothing is withdrawn.
        let run = try runPipeline()
        XCTAssertEqual(run.status, 0, "\(run.summary)")
        XCTAssertEqual(files(folder("publish")), [published])
        let initialized = try Fixtures.run(
            try Fixtures.consentgate, ["ledger", "init", "--url", adminURL, "--role", Self.runtimeRole])
        XCTAssertEqual(initialized.status, 0, initialized.output)
        XCTAssertTrue(initialized.text.contains("state tables"), initialized.text)
        XCTAssertEqual(try sql("SELECT version FROM state_version"), "1")
        XCTAssertEqual(try sql("SELECT name FROM live_publications"), published)
        XCTAssertEqual(try auditVerify().status, 0)
        XCTAssertEqual(try runPipeline().status, 0)
        XCTAssertEqual(files(folder("publish")), [published])
    }
}
