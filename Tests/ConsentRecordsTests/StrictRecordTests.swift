import ConsentRecords
import Foundation
import XCTest

/// Record JSON is read strictly: any deviation makes the record invalid, with the reason.
final class StrictRecordTests: XCTestCase {
    /// Writes `json` as NAME.json, signed by a trusted key over exactly these bytes, and returns the verdict.
    func verdict(_ json: String, name: String = "AUTH-1") throws -> String {
        let lab = try RecordLab()
        let key = lab.trust("office")
        let path = lab.records.appendingPathComponent(name + ".json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        let signature = try Minisign.sign(Array(json.utf8), with: key, trustedComment: "test", untrustedComment: "test")
        try signature.write(toFile: path + ".minisig", atomically: true, encoding: .utf8)
        let registry = try lab.registry()
        return registry.invalid.first?.reason ?? (registry.authorizations.isEmpty ? "nothing loaded" : "valid")
    }

    let hash = String(repeating: "ab", count: 32)
    var base: [String: String] {
        [
            "type": "\"consentgate.authorization/v1\"", "id": "\"AUTH-1\"", "subject": "\"P-0001\"",
            "purposes": "[\"marketing\"]", "channels": "[\"website\"]",
            "assets": "[{\"presented_sha256\": \"\(hash)\"}]", "effective": "\"2026-01-01\"", "expires": "\"2027-01-01\"",
        ]
    }

    func json(_ fields: [String: String], extra: String = "") -> String {
        "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + extra
            + "}"
    }

    func testBaseRecordIsValid() throws {
        XCTAssertEqual(try verdict(json(base)), "valid")
    }

    func testEachDeviationIsRefusedWithItsReason() throws {
        var fields = base
        fields["colour"] = "\"blue\""
        XCTAssertEqual(try verdict(json(fields)), "invalid record: unknown field \"colour\" in the record")

        XCTAssertTrue(
            try verdict(json(base, extra: ", \"channels\": [\"print\"]")).contains("duplicate key \"channels\""))

        fields = base
        fields["channels"] = "\"website\""
        XCTAssertEqual(
            try verdict(json(fields)), "invalid record: \"channels\" in the record must be a list, not a string")

        fields = base
        fields.removeValue(forKey: "expires")
        XCTAssertEqual(try verdict(json(fields)), "invalid record: missing required field \"expires\" in the record")

        fields = base
        fields["expires"] = "\"2027-02-30\""
        XCTAssertEqual(
            try verdict(json(fields)), "invalid record: \"expires\" must be a date YYYY-MM-DD, not \"2027-02-30\"")

        fields = base
        fields["subject"] = "\"Jane Doe\""
        XCTAssertTrue(try verdict(json(fields)).contains("never a name"))

        fields = base
        fields["assets"] = "[{\"presented_sha256\": \"\(hash)\", \"people_in_frame\": 1.5}]"
        XCTAssertTrue(try verdict(json(fields)).contains("must be a whole number"))

        fields = base
        fields["assets"] = "[{\"label\": \"no fingerprint\"}]"
        XCTAssertTrue(try verdict(json(fields)).contains("neither presented_sha256 nor file_sha256"))

        fields = base
        fields["expires"] = "\"2025-01-01\""
        XCTAssertTrue(try verdict(json(fields)).contains("is not after"))

        XCTAssertEqual(
            try verdict(json(base), name: "AUTH-2"),
            "invalid record: file name AUTH-2.json does not match its id AUTH-1")
        XCTAssertTrue(try verdict(json(base) + " x").contains("unexpected data after the JSON value"))
        XCTAssertTrue(try verdict("\u{FEFF}" + json(base)).contains("byte order mark"))
    }

    func testStrictJSONDetails() {
        func fails(_ text: String) -> Bool { (try? StrictJSON.parse(Array(text.utf8))) == nil }
        XCTAssertFalse(fails("{\"a\": [1, 2.5e3, -0, true, null, \"\\u00e9\\ud83d\\ude00\"]}"))
        XCTAssertTrue(fails("{\"a\": 01}"))
        XCTAssertTrue(fails("{\"a\": \"\\ud800\"}"))
        XCTAssertTrue(fails("{\"a\": 1,}"))
        XCTAssertTrue(fails("[" + String(repeating: "[", count: 40) + String(repeating: "]", count: 41)))
        XCTAssertTrue((try? StrictJSON.parse([0x22, 0xC3, 0x28, 0x22])) == nil, "invalid UTF-8")
        XCTAssertEqual(try? StrictJSON.parse(Array("\"a\\nb\"".utf8)), .string("a\nb"))
    }

    func testTimestampsAndDays() {
        XCTAssertEqual(Timestamp.parse("2026-05-01T09:30:00Z")?.timeIntervalSince1970, 1_777_627_800)
        XCTAssertEqual(Timestamp.parse("2026-05-01T11:30:00+02:00"), Timestamp.parse("2026-05-01T09:30:00Z"))
        XCTAssertNil(Timestamp.parse("2026-05-01 09:30:00"))
        XCTAssertNil(Timestamp.parse("2026-13-01T09:30:00Z"))
        XCTAssertEqual(Timestamp.format(Timestamp.parse("2026-05-01T09:30:00Z")!), "2026-05-01T09:30:00Z")
        XCTAssertNil(CalendarDay("2026-02-29"))
        XCTAssertNotNil(CalendarDay("2028-02-29"))
        XCTAssertEqual(CalendarDay(Timestamp.parse("2026-12-31T23:59:59Z")!).description, "2026-12-31")
    }
}
