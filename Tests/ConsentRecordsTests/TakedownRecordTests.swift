import ConsentRecords
import Foundation
import TestSupport
import XCTest

/// `consentgate.takedown/v1` and its lift: strict reading, the role `takedown`, minisign interop, and the decision.
final class TakedownRecordTests: XCTestCase {
    func takedown(_ id: String, _ configure: (inout TakedownSelectors) -> Void) -> Takedown {
        var select = TakedownSelectors()
        configure(&select)
        return Takedown(
            id: id, select: select, reason: "key leaked", recordedBy: "staff-7",
            recordedAt: RecordLab.date("2026-05-01T00:00:00Z"))
    }

    func write(_ lab: RecordLab, _ record: Record, key: String) throws {
        let json: [UInt8]
        switch record {
        case .takedown(let t): json = RecordWriter.json(t)
        case .takedownLift(let l): json = RecordWriter.json(l)
        default: return XCTFail("not an incident record")
        }
        try RecordWriter.write(
            json, record: record, to: lab.records.path, key: lab.keys[key]!, now: RecordLab.date("2026-05-01T00:00:00Z")
        )
    }

    func testMinisignVerifiesATakedownAndItReadsBackExactly() throws {
        let minisign = try Fixtures.requireTool("minisign")
        let lab = try RecordLab()
        let key = lab.trust("incident", roles: [.takedown])
        let record = takedown("TD-1") {
            $0.keys = ["0123456789ABCDEF"]
            $0.channels = ["instagram"]
            $0.publishedFrom = RecordLab.date("2026-01-01T00:00:00Z")
            $0.publishedTo = RecordLab.date("2026-02-01T00:00:00Z")
        }
        try write(lab, .takedown(record), key: "incident")
        let pub = lab.folder.appendingPathComponent("incident.pub")
        try key.publicKey.fileText.write(to: pub, atomically: true, encoding: .utf8)
        let path = lab.records.appendingPathComponent("TD-1.json").path
        let result = try Fixtures.run(minisign, ["-V", "-m", path, "-p", pub.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("type=consentgate.takedown/v1 id=TD-1"), result.output)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(try RecordParser.parse(bytes), .takedown(record))
        let registry = try lab.registry()
        XCTAssertEqual(registry.invalid.map(\.reason), [])
        XCTAssertEqual(registry.takedownsInForce.map(\.id), ["TD-1"])
    }

    func testStrictReadingRefusesWhatATakedownMustNotSay() throws {
        func refusal(_ text: String) -> String? {
            do {
                _ = try RecordParser.parse(Array(text.utf8))
                return nil
            } catch { return error.reason }
        }
        let head = #"{"type":"consentgate.takedown/v1","id":"TD-1","reason":"r","select":"#
        XCTAssertNil(refusal(head + #"{"records":["AUTH-1"]}}"#))
        XCTAssertNotNil(refusal(head + #"{}}"#), "no selector and no all")
        XCTAssertNotNil(refusal(head + #"{"channels":["instagram"]}}"#), "a channel alone without all")
        XCTAssertNil(refusal(head + #"{"channels":["instagram"],"all":true}}"#))
        XCTAssertNotNil(refusal(head + #"{"records":["AUTH-1"],"all":true}}"#), "all with a record")
        XCTAssertNotNil(refusal(head + #"{"records":["AUTH-1"],"colour":"red"}}"#), "unknown selector")
        XCTAssertNotNil(refusal(head + #"{"keys":["0123"]}}"#), "a short key id")
        XCTAssertNotNil(refusal(head + #"{"subjects":["Jane Doe"]}}"#), "a name for a subject")
        XCTAssertNotNil(refusal(head + #"{"records":["AUTH-1"]},"extra":1}"#), "unknown field")
        XCTAssertNotNil(refusal(#"{"type":"consentgate.takedown/v1","id":"TD-1","select":{"all":true}}"#), "no reason")
        XCTAssertNotNil(
            refusal(head + #"{"all":true,"published_between":["2026-02-01T00:00:00Z","2026-01-01T00:00:00Z"]}}"#),
            "a period that ends before it starts")
        XCTAssertNotNil(refusal(#"{"type":"consentgate.takedown-lift/v1","id":"L-1"}"#), "a lift names its takedown")
    }

    func testOnlyAKeyWithTheTakedownRoleSignsTakedownsAndLifts() throws {
        let lab = try RecordLab()
        lab.trust("office")
        lab.trust("incident", roles: [.takedown])
        try lab.write(try lab.authorization("AUTH-1"))
        try write(lab, .takedown(takedown("TD-1") { $0.records = ["auth-1"] }), key: "office")
        var registry = try lab.registry()
        XCTAssertTrue(registry.takedowns.isEmpty)
        XCTAssertTrue(
            registry.invalid.contains { $0.reason.contains("does not have the role takedown") }, "\(registry.invalid)")
        try FileManager.default.removeItem(at: lab.records.appendingPathComponent("TD-1.json"))
        try FileManager.default.removeItem(at: lab.records.appendingPathComponent("TD-1.json.minisig"))
        try write(lab, .takedown(takedown("TD-2") { $0.records = ["auth-1"] }), key: "incident")
        XCTAssertFalse(try lab.decide().approved, "a takedown of AUTH-1 (any letter case) refuses its picture")
        XCTAssertEqual(try lab.decide().reasons.map(\.code), ["taken_down"])
        // A lift by a key without the role is refused; one by the takedown key ends it.
        try write(lab, .takedownLift(TakedownLift(id: "LIFT-1", takedown: "TD-2")), key: "office")
        registry = try lab.registry()
        XCTAssertEqual(registry.takedownsInForce.map(\.id), ["TD-2"])
        XCTAssertFalse(try lab.decide().approved)
        try write(lab, .takedownLift(TakedownLift(id: "LIFT-2", takedown: "td-2")), key: "incident")
        let lifted = try lab.decide()
        XCTAssertTrue(lifted.approved, "\(lifted.reasons)")
    }

    func testSelectorsCombineAndAChainIsTakenDownWhole() throws {
        let lab = try RecordLab()
        lab.trust("office")
        let incident = lab.trust("incident", roles: [.takedown])
        try lab.write(try lab.authorization("AUTH-OLD", subject: "P-1", channels: ["website", "instagram"]))
        try lab.write(
            try lab.authorization(
                "AUTH-NEW", subject: "P-1", channels: ["website", "instagram"], supersedes: "AUTH-OLD"))
        try write(
            lab,
            .takedown(
                takedown("TD-1") {
                    $0.records = ["AUTH-OLD"]
                    $0.channels = ["instagram"]
                }), key: "incident")
        XCTAssertTrue(try lab.decide(channel: "website").approved, "another channel stays up")
        let instagram = try lab.decide(channel: "instagram")
        XCTAssertFalse(instagram.approved)
        XCTAssertTrue(
            instagram.reasons.map(\.code).contains("taken_down"),
            "the newer record of the chain is taken down with the old one: \(instagram.reasons)")
        // By key: everything the office key signed; the takedown key's own id selects nothing.
        let registry = try lab.registry()
        let office = try XCTUnwrap(registry.authorizations["AUTH-NEW"]?.keyID)
        var byKey = TakedownSelectors()
        byKey.keys = [office]
        let target = registry.takedownTarget(
            channel: "website", asset: nil, fingerprints: [], records: ["AUTH-NEW"], keys: [], candidates: [],
            publishedAt: nil)
        XCTAssertTrue(Takedown(id: "x", select: byKey, reason: "r").selects(target, now: Date(), chain: registry.chain))
        byKey.keys = [incident.publicKey.keyIDHex]
        XCTAssertFalse(
            Takedown(id: "x", select: byKey, reason: "r").selects(target, now: Date(), chain: registry.chain))
    }
}
