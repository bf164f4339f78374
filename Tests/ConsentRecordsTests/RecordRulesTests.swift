import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// Issue #9.7 and #15.6/#15.8: subjects without letter case, retired keys and when a record was first seen,
/// the records' time zone, the trust file's mode, implausible dates, output that cannot lie.
final class RecordRulesTests: XCTestCase {
    func testSubjectsDifferingOnlyInLetterCaseAreOnePerson() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", subject: "P-1", people: 2))
        try lab.write(try lab.authorization("AUTH-2", subject: "p-1", people: 2))
        XCTAssertEqual(try lab.decide().reasons, [.notEveryoneConsented(consented: 1, required: 2)])
        try lab.write(try lab.authorization("AUTH-3", subject: "P-2", people: 2))
        XCTAssertTrue(try lab.decide().approved)
    }

    func testRetiredKeyRecordFirstSeenAfterRetirementIsRefused() throws {
        let lab = try RecordLab()
        lab.trust("old", from: "2025-01-01", until: "2026-03-31", status: .retired)
        // Both claim to be signed before retirement; only one was in the folder before it.
        try lab.write(try lab.authorization("AUTH-OLD"), key: "old", signedAt: "2026-03-30T10:00:00Z")
        try lab.write(
            try lab.authorization("AUTH-BACKDATED", picture: "demo-camera-photo.jpg"), key: "old",
            signedAt: "2026-03-30T10:00:00Z")
        let oldBytes = Array(try Data(contentsOf: lab.records.appendingPathComponent("AUTH-OLD.json")))
        let oldHash = sha256Hex(oldBytes)
        let seen: @Sendable (String, String) -> Date? = { file, sha256 in
            file == "AUTH-OLD.json" && sha256 == oldHash ? RecordLab.date("2026-03-30T11:00:00Z") : nil
        }
        let now = RecordLab.date("2026-06-01T12:00:00Z")
        let registry = try Registry.load(folder: lab.records.path, trust: try lab.store(), now: now, firstSeen: seen)
        XCTAssertEqual(Array(registry.authorizations.keys), ["AUTH-OLD"])
        XCTAssertTrue(
            registry.invalid.first?.reason.contains("first saw this record on 2026-06-01") ?? false,
            "\(registry.invalid)")
        XCTAssertEqual(
            Set(registry.sightings),
            [
                RecordSighting(file: "AUTH-OLD.json", sha256: oldHash),
                RecordSighting(
                    file: "AUTH-BACKDATED.json",
                    sha256: sha256Hex(
                        Array(try Data(contentsOf: lab.records.appendingPathComponent("AUTH-BACKDATED.json"))))),
            ])
        // Changed bytes under the same name were not seen before.
        let changed: @Sendable (String, String) -> Date? = { _, _ in nil }
        XCTAssertTrue(
            try Registry.load(folder: lab.records.path, trust: try lab.store(), now: now, firstSeen: changed)
                .authorizations.isEmpty)
        // Without any history (records verify), the signature's time is judged, with a warning.
        let unknown = try lab.registry()
        XCTAssertEqual(unknown.authorizations.count, 2)
        XCTAssertTrue(
            unknown.authorizations["AUTH-OLD"]?.warnings.contains { $0.contains("retired key") } ?? false)
    }

    func testRecordDaysAreDaysInTheConfiguredZone() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", effective: "2026-03-01", expires: "2027-01-01"))
        let chicago = TimeZone(identifier: "America/Chicago")!
        // 03:00 UTC on 1 March is 21:00 on 28 February in Chicago: not yet effective there.
        let now = RecordLab.date("2026-03-01T03:00:00Z")
        XCTAssertEqual(CalendarDay(now, in: chicago), CalendarDay("2026-02-28"))
        let prints = try RecordLab.fingerprints("demo-phone-photo.jpg")
        func decide(_ zone: TimeZone) throws -> ConsentDecision {
            let registry = try Registry.load(folder: lab.records.path, trust: try lab.store(), now: now, timeZone: zone)
            XCTAssertEqual(registry.timeZone, zone)
            return ConsentPolicy.decide(
                presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, channel: "website",
                registry: registry, now: now)
        }
        XCTAssertEqual(
            try decide(chicago).reasons, [.notYetEffective(id: "AUTH-1", from: CalendarDay("2026-03-01")!)])
        XCTAssertTrue(try decide(Registry.utc).approved)
        // And the day it expires begins at midnight there too.
        XCTAssertEqual(
            CalendarDay(RecordLab.date("2027-01-01T05:59:59Z"), in: chicago), CalendarDay("2026-12-31"))
    }

    func testTrustFileWritableByGroupOrOthersIsRefused() throws {
        let lab = try RecordLab()
        lab.trust("office")
        let path = lab.trustPath
        XCTAssertEqual(chmod(path, 0o644), 0)
        XCTAssertNoThrow(try TrustStore.load(path: path))
        for mode: mode_t in [0o664, 0o646] {
            XCTAssertEqual(chmod(path, mode), 0)
            XCTAssertThrowsError(try TrustStore.load(path: path)) { error in
                XCTAssertTrue("\(error)".contains("chmod go-w \(path)"), "\(error)")
            }
        }
        // The demo trust file is committed 644.
        var info = stat()
        XCTAssertEqual(stat(Fixtures.sampleMedia.appendingPathComponent("trust.DEMO.yml").path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o022, 0)
    }

    /// Writes `json` signed by a trusted key and returns the registry at `now`.
    func load(
        _ json: String, name: String = "AUTH-1", now: String = "2026-06-01T12:00:00Z",
        signedAt: String? = "2026-01-02T00:00:00Z"
    )
        throws -> Registry
    {
        let lab = try RecordLab()
        let key = lab.trust("office")
        try lab.writeRaw(
            name + ".json", json, signedBy: key, comment: signedAt.map { "signed_at=\($0)" } ?? "test")
        try lab.write(try lab.authorization("AUTH-OTHER", picture: "demo-camera-photo.jpg"))
        return try lab.registry(now: RecordLab.date(now))
    }

    let hash = String(repeating: "ab", count: 32)
    func authorization(_ extra: String = "", effective: String = "2026-01-01", expires: String = "2027-01-01") -> String
    {
        """
        {"type": "consentgate.authorization/v1", "id": "AUTH-1", "subject": "P-1", "purposes": ["marketing"], \
        "channels": ["website"], "assets": [{"presented_sha256": "\(hash)"}], "effective": "\(effective)", \
        "expires": "\(expires)"\(extra)}
        """
    }

    func testImplausibleDatesMakeARecordInvalid() throws {
        XCTAssertEqual(try load(authorization()).invalid, [])
        let cases: [(String, String)] = [
            (authorization(", \"signed_on\": \"2026-06-03\""), "signed_on 2026-06-03 lies in the future"),
            (authorization(", \"signed_on\": \"1899-12-31\""), "before 1900"),
            (authorization(", \"recorded_at\": \"2026-06-01T12:10:00Z\""), "recorded_at lies in the future"),
            (authorization(effective: "2027-06-03", expires: "2028-01-01"), "more than 366 days after"),
            (authorization(expires: "2126-01-02"), "more than 100 years after effective"),
        ]
        for (json, expected) in cases {
            let registry = try load(json)
            XCTAssertTrue(registry.authorizations["AUTH-1"] == nil, expected)
            XCTAssertTrue(registry.invalid.first?.reason.contains(expected) ?? false, "\(registry.invalid)")
            XCTAssertEqual(registry.invalid.first?.blocks, ["AUTH-1"])
        }
        // Within the limits: one day ahead for signed_on, five minutes for recorded_at, a year ahead, 100 years.
        for json in [
            authorization(", \"signed_on\": \"2026-06-02\""),
            authorization(", \"recorded_at\": \"2026-06-01T12:04:00Z\""),
            authorization(effective: "2027-01-01", expires: "2028-01-01"),
            authorization(expires: "2126-01-01"),
        ] {
            XCTAssertEqual(try load(json).invalid, [], json)
        }
    }

    func testARevocationFromTheFarFutureBlocksNow() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        try lab.write(
            Revocation(id: "REV-1", authorization: "AUTH-1", receivedAt: RecordLab.date("2062-05-01T09:00:00Z")),
            signedAt: "2026-05-01T09:00:00Z")
        let registry = try lab.registry()
        XCTAssertEqual(registry.invalid.map(\.file), ["REV-1.json"])
        XCTAssertTrue(registry.invalid[0].reason.contains("received_at lies in the future"), registry.invalid[0].reason)
        XCTAssertEqual(registry.invalid[0].blocks, ["AUTH-1"])
        XCTAssertEqual(try lab.decide().reasons.map(\.code), ["invalid_record"])
        // Less than a day ahead is a clock, not a typo: it waits for its time.
        let soon = try RecordLab()
        soon.trust("office")
        try soon.write(try soon.authorization("AUTH-1"))
        try soon.write(
            Revocation(id: "REV-1", authorization: "AUTH-1", receivedAt: RecordLab.date("2026-06-02T11:00:00Z")),
            signedAt: "2026-05-01T09:00:00Z")
        XCTAssertEqual(try soon.registry().invalid, [])
        XCTAssertTrue(try soon.decide().approved)
    }

    func testEscapeShowsControlsAndBytes() {
        XCTAssertEqual(Escape.display("a\n3 valid, 0 invalid\n.json"), "a\\n3 valid, 0 invalid\\n.json")
        XCTAssertEqual(Escape.display("tab\there\r\u{1B}[2J\u{7F}"), "tab\\there\\r\\x1B[2J\\x7F")
        XCTAssertEqual(Escape.display("back\\slash"), "back\\\\slash")
        XCTAssertEqual(Escape.display("evil\u{202E}gnp.json"), "evil\\u{202E}gnp.json")
        XCTAssertEqual(Escape.display("café 写真"), "café 写真")
        XCTAssertEqual(Escape.display([0x61, 0xFF, 0xC3, 0xA9, 0xC3, 0x0A, 0xE2, 0x82]), "a\\xFFé\\xC3\\n\\xE2\\x82")
        XCTAssertEqual(
            Escape.display([0xC0, 0xAF, 0xED, 0xA0, 0x80]), "\\xC0\\xAF\\xED\\xA0\\x80", "overlong, surrogate")
        XCTAssertFalse(Escape.display(Array("x\u{85}y\u{2028}z".utf8)).contains { $0.isNewline })
    }
}
