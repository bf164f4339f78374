import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// SPEC §5's decision rules, each on its own, with every reason reported.
final class DecisionTests: XCTestCase {
    func testValidAuthorizationApproves() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        let decision = try lab.decide()
        XCTAssertTrue(decision.approved, "\(decision.reasons)")
        XCTAssertEqual(decision.usedRecords, ["AUTH-1"])
    }

    func testNoRecord() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", picture: "demo-camera-photo.jpg"))
        let decision = try lab.decide()
        XCTAssertFalse(decision.approved)
        XCTAssertEqual(decision.reasons, [.noRecord])
    }

    func testExpiredAndNotYetEffective() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(
            try lab.authorization("AUTH-1", effective: "2026-01-01", expires: "2026-06-01"),
            signedAt: "2025-12-01T00:00:00Z")
        XCTAssertEqual(
            try lab.decide(now: "2026-06-01T00:00:00Z").reasons,
            [.expired(id: "AUTH-1", on: CalendarDay("2026-06-01")!)])
        XCTAssertTrue(try lab.decide(now: "2026-05-31T23:59:59Z").approved)
        XCTAssertEqual(
            try lab.decide(now: "2025-12-31T23:59:59Z").reasons,
            [.notYetEffective(id: "AUTH-1", from: CalendarDay("2026-01-01")!)])
    }

    func testRevokedBeforeNowRefusesAfterNowDoesNot() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        try lab.write(
            Revocation(id: "REV-1", authorization: "AUTH-1", receivedAt: RecordLab.date("2026-05-01T09:00:00Z")))
        let before = try lab.decide(now: "2026-04-30T12:00:00Z")
        XCTAssertTrue(before.approved, "a revocation received later does not apply yet")
        let after = try lab.decide(now: "2026-05-01T09:00:00Z")
        XCTAssertEqual(after.reasons, [.revoked(id: "AUTH-1", on: RecordLab.date("2026-05-01T09:00:00Z"), by: "REV-1")])
    }

    func testRevocationForOneChannelLeavesOthers() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", channels: ["website", "instagram"]))
        try lab.write(
            Revocation(
                id: "REV-1", authorization: "AUTH-1", receivedAt: RecordLab.date("2026-05-01T09:00:00Z"),
                channels: ["instagram"]))
        XCTAssertFalse(try lab.decide(channel: "instagram").approved)
        XCTAssertTrue(try lab.decide(channel: "website").approved)
    }

    func testWrongChannelAndWrongPurpose() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", channels: ["print"], purposes: ["treatment-records"]))
        let decision = try lab.decide(channel: "website")
        XCTAssertEqual(
            decision.reasons,
            [
                .channelNotPermitted(id: "AUTH-1", channel: "website"),
                .purposeNotPermitted(id: "AUTH-1", purpose: "marketing"),
            ])
    }

    func testPeopleInFrameNeedsEverySubject() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", subject: "P-0001", people: 2))
        XCTAssertEqual(try lab.decide().reasons, [.notEveryoneConsented(consented: 1, required: 2)])
        // The same subject twice is still one person.
        try lab.write(try lab.authorization("AUTH-2", subject: "P-0001", people: 2))
        XCTAssertEqual(try lab.decide().reasons, [.notEveryoneConsented(consented: 1, required: 2)])
        try lab.write(try lab.authorization("AUTH-3", subject: "P-0002", people: 2))
        let decision = try lab.decide()
        XCTAssertTrue(decision.approved, "\(decision.reasons)")
        XCTAssertEqual(Set(decision.usedRecords), ["AUTH-1", "AUTH-2", "AUTH-3"])
    }

    func testSupersededRecordNoLongerCounts() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", channels: ["website"]))
        try lab.write(try lab.authorization("AUTH-2", channels: ["print"], supersedes: "AUTH-1"))
        let decision = try lab.decide(channel: "website")
        XCTAssertFalse(decision.approved)
        XCTAssertTrue(decision.reasons.contains(.superseded(id: "AUTH-1", by: "AUTH-2")))
    }

    func testEditedPictureMatchesByContentReencodedDoesNot() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        // demo-phone-photo-edited.jpg is the same picture with its metadata edited by exiftool.
        XCTAssertTrue(try lab.decide("demo-phone-photo-edited.jpg").approved)
        // Stripped by exiftool, and re-encoded by ffmpeg: judged by outside tools.
        let exiftool = try Fixtures.requireTool("exiftool")
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let stripped = lab.folder.appendingPathComponent("stripped.jpg").path
        let reencoded = lab.folder.appendingPathComponent("reencoded.jpg").path
        let original = Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path
        let unturned = lab.folder.appendingPathComponent("unturned.jpg").path
        // Every tag removed but the Orientation publishing keeps: metadata only.
        XCTAssertEqual(
            try Fixtures.run(exiftool, ["-q", "-all=", "-tagsfromfile", "@", "-Orientation", "-o", stripped, original])
                .status, 0)
        // -all= also drops the Orientation: the photo would show sideways, not as consented to.
        XCTAssertEqual(try Fixtures.run(exiftool, ["-q", "-all=", "-o", unturned, original]).status, 0)
        XCTAssertEqual(try Fixtures.run(ffmpeg, ["-v", "error", "-i", original, "-q:v", "3", reencoded]).status, 0)
        let registry = try lab.registry()
        func decide(_ path: String) throws -> ConsentDecision {
            let prints = try Fingerprints.compute(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            return ConsentPolicy.decide(
                presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, channel: "website",
                registry: registry,
                now: RecordLab.date("2026-06-01T12:00:00Z"))
        }
        XCTAssertTrue(try decide(stripped).approved, "a metadata-only edit keeps presented_sha256")
        XCTAssertEqual(try decide(unturned).reasons, [.noRecord], "losing the Orientation changes what is presented")
        XCTAssertEqual(try decide(reencoded).reasons, [.noRecord])
    }

    /// A record signed when `content_sha256` hashed only the coded data approves nothing under definition 2: it is
    /// valid (its revocations and doubts still count) but the decision says to re-record it, and `records verify`
    /// warns. Its file_sha256, if any, still matches the exact file.
    func testARecordUnderTheOldFingerprintDefinitionApprovesNothing() throws {
        let lab = try RecordLab()
        let key = lab.trust("office")
        let prints = try RecordLab.fingerprints("demo-phone-photo.jpg")
        let old = try XCTUnwrap(prints.legacyContentSHA256)
        XCTAssertNotEqual(old, prints.presentedSHA256)
        try lab.writeRaw(
            "AUTH-OLD.json",
            """
            {"type": "consentgate.authorization/v1", "id": "AUTH-OLD", "subject": "P-1", "purposes": ["marketing"], \
            "channels": ["website"], "assets": [{"content_sha256": "\(old)"}], "effective": "2026-01-01", \
            "expires": "2027-01-01"}
            """, signedBy: key)
        let registry = try lab.registry()
        XCTAssertEqual(registry.invalid.map(\.reason), [])
        XCTAssertTrue(
            registry.authorizations["AUTH-OLD"]?.warnings.contains { $0.contains("old fingerprint definition") } ?? false)
        let now = RecordLab.date("2026-06-01T12:00:00Z")
        let decision = ConsentPolicy.decide(
            presentedSHA256: prints.presentedSHA256, legacyContentSHA256: prints.legacyContentSHA256,
            fileSHA256: prints.fileSHA256, channel: "website", registry: registry, now: now)
        XCTAssertFalse(decision.approved)
        XCTAssertEqual(decision.reasons, [.oldFingerprint(id: "AUTH-OLD")])
        XCTAssertTrue(decision.reasons[0].description.contains("re-record"))
        XCTAssertEqual(decision.matchingRecords, ["AUTH-OLD"])
        // Even handed the old value as if it were the new one (a caller not yet migrated), nothing matches.
        XCTAssertFalse(
            ConsentPolicy.decide(presentedSHA256: old, fileSHA256: nil, channel: "website", registry: registry, now: now)
                .approved)
    }
}
