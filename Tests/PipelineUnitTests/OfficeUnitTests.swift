import ConsentRecords
import Foundation
import XCTest

@testable import Pipeline

/// Issue #26 in memory: every reason a record can cure is pending (an expired authorization too), what each card
/// says cures it and who can act, and the office's pipeline keys.
final class OfficeUnitTests: XCTestCase {
    func config(_ extra: String = "") throws -> PipelineConfig {
        try PipelineConfig.parse(
            """
            name: w
            channel: website
            folders: {inbox: /srv/in, publish: /srv/pub, quarantine: /var/q, archive: /var/a, retracted: /var/r}
            authorizations: /srv/auth
            trust: /etc/trust.yml
            ledger: /var/ledger.sqlite
            \(extra)
            """, path: "/etc/consentgate/w.yml")
    }

    func entry(_ codes: [String], pending: Bool) -> QuarantineEntry {
        QuarantineEntry(
            asset: String(repeating: "a", count: 32), file: "x.jpg", originalName: "x.jpg", subfolder: "",
            quarantinedAt: "2026-01-01T00:00:00Z", ageDays: 3,
            reasons: codes.map { .init(code: $0, message: "", whatToDo: "") },
            presentedSHA256: String(repeating: "b", count: 64), fileSHA256: nil, pending: pending, pendingUntil: nil,
            notPendingBecause: nil)
    }

    func testEveryReasonARecordCanCureIsPendingAnExpiredAuthorizationToo() {
        for code in [ReasonCode.noRecord, .expired, .channelNotPermitted, .notEveryoneConsented, .notYetEffective] {
            XCTAssertTrue(code.isCurable, code.rawValue)
        }
        for code in [ReasonCode.revoked, .notMedia, .cannotSanitize, .unreadable, .readerFailed, .invalidRecord] {
            XCTAssertFalse(code.isCurable, code.rawValue)
        }
        XCTAssertTrue(QuarantineState.curable.contains("expired"))
    }

    func testEachCardSaysWhatCuresItWhoCanActAndTheCommand() throws {
        let config = try config()
        let expired = OfficeCards.action(entry(["expired"], pending: true), config: config, standing: nil)
        XCTAssertEqual(expired.whoCanAct, "the privacy office")
        XCTAssertTrue(expired.cure.contains("the one it had expired"), expired.cure)
        XCTAssertTrue(expired.command?.hasPrefix("consentgate authorize --key KEY.key") == true)
        for codes in [["revoked"], ["not_media"], ["cannot_sanitize"]] {
            let action = OfficeCards.action(entry(codes, pending: false), config: config, standing: nil)
            XCTAssertTrue(action.whoCanAct.hasPrefix("the service account"), "\(codes)")
            XCTAssertEqual(
                action.command, "consentgate quarantine purge --pipeline /etc/consentgate/w.yml --older-than 3 --dry-run")
        }
    }

    func testTheOfficeKeysAreReadAndMayNotLieInThePipelinesFolders() throws {
        let config = try config("evidence: /srv/office/evidence\noffice_export: /srv/office/export\noffice_defaults: d.yml")
        XCTAssertEqual(config.office.evidence, "/srv/office/evidence")
        XCTAssertEqual(config.office.export, "/srv/office/export")
        XCTAssertEqual(config.office.defaults, "/etc/consentgate/d.yml")
        XCTAssertThrowsError(try self.config("office_export: /srv/pub/export"))
        XCTAssertThrowsError(try self.config("evidence: /srv/in/forms"))
        XCTAssertThrowsError(try self.config("evidence: /srv/auth"))
    }
}
