import ConsentRecords
import Foundation
import TestSupport
import XCTest

/// Consent per visible person (issue #24): S >= max(F, P), the review record `consentgate.review/v1` (strict
/// reading, the role `review`, minisign interop) and how a review replaces the detector's count.
final class PeopleCountTests: XCTestCase {
    func decide(_ lab: RecordLab, visible: VisiblePeople?) throws -> ConsentDecision {
        let prints = try RecordLab.fingerprints("demo-phone-photo.jpg")
        let registry = try lab.registry()
        return ConsentPolicy.decide(
            presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, channel: "website",
            registry: registry, now: RecordLab.date("2026-06-01T12:00:00Z"),
            visible: registry.reviewed(
                visible, presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256))
    }

    func review(_ id: String, people: Int, at: String = "2026-05-01T00:00:00Z") throws -> PeopleReview {
        PeopleReview(
            id: id, presentedSHA256: try RecordLab.fingerprints("demo-phone-photo.jpg").presentedSHA256,
            peopleVisible: people, note: "one face is a poster", recordedBy: "staff-7", recordedAt: RecordLab.date(at))
    }

    func write(_ lab: RecordLab, _ review: PeopleReview, key: String) throws {
        try RecordWriter.write(
            RecordWriter.json(review), record: .review(review), to: lab.records.path, key: lab.keys[key]!,
            now: RecordLab.date("2026-05-01T00:00:00Z"))
    }

    func testMoreFacesThanConsentingSubjectsIsPendingWithTheCount() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", subject: "P-1"))
        let three = try decide(lab, visible: VisiblePeople(faces: 3))
        XCTAssertFalse(three.approved)
        XCTAssertEqual(three.reasons.map(\.code), ["not_everyone_consented"])
        XCTAssertEqual(
            three.reasons.first?.description,
            "3 people are visible and 1 has consented: record the others' authorizations, or a review")
        XCTAssertEqual(three.peopleRequired?.source, .detector)
        // No face, or one: one consent publishes, as before.
        XCTAssertTrue(try decide(lab, visible: VisiblePeople(faces: 0)).approved)
        XCTAssertTrue(try decide(lab, visible: VisiblePeople(faces: 1)).approved)
        // The others consent: published, the count from the detector.
        try lab.write(try lab.authorization("AUTH-2", subject: "P-2"))
        try lab.write(try lab.authorization("AUTH-3", subject: "p-3"))
        let all = try decide(lab, visible: VisiblePeople(faces: 3))
        XCTAssertTrue(all.approved, "\(all.reasons)")
        var expected = PeopleCount(count: 3, source: .detector, faces: 3)
        expected.consented = 3
        XCTAssertEqual(all.peopleRequired, expected)
    }

    func testDeclaredPeopleStillCountAndAFailedCountBlocksButAnUnsupportedFormatFallsBack() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", subject: "P-1", people: 2))
        // P = 2 > F = 1: the declared count rules, with the old words.
        let declared = try decide(lab, visible: VisiblePeople(faces: 1))
        XCTAssertEqual(declared.reasons.map(\.description), ["1 of 2 people consented"])
        // The detector failed on a picture it reads: nothing is published until a review states the count.
        let lab2 = try RecordLab()
        lab2.trust("office")
        try lab2.write(try lab2.authorization("AUTH-1", subject: "P-1"))
        let failed = try decide(lab2, visible: VisiblePeople(faces: nil, notCounted: "damaged"))
        XCTAssertFalse(failed.approved)
        XCTAssertEqual(failed.reasons.map(\.code), ["not_everyone_consented"])
        XCTAssertTrue(failed.reasons.first!.description.contains("could not be counted (damaged)"))
        // A format without a detector (video): the declared count, said as such.
        let video = try decide(
            lab2, visible: VisiblePeople(faces: nil, notCounted: "videos: declared count only", fallsBackToDeclared: true))
        XCTAssertTrue(video.approved)
        XCTAssertEqual(video.peopleRequired?.source, .declared)
        XCTAssertEqual(video.peopleRequired?.notCounted, "videos: declared count only")
    }

    func testAReviewReplacesTheDetectorsCountButNeverGoesBelowWhatARecordDeclares() throws {
        let lab = try RecordLab()
        lab.trust("office")
        lab.trust("reviewer", roles: [.review])
        try lab.write(try lab.authorization("AUTH-1", subject: "P-1"))
        XCTAssertFalse(try decide(lab, visible: VisiblePeople(faces: 2)).approved)
        // The second face is a poster: a review says one person.
        try write(lab, try review("REV-1", people: 1), key: "reviewer")
        let reviewed = try decide(lab, visible: VisiblePeople(faces: 2))
        XCTAssertTrue(reviewed.approved, "\(reviewed.reasons)")
        XCTAssertEqual(reviewed.peopleRequired?.source, .review)
        XCTAssertEqual(reviewed.peopleRequired?.reviewID, "REV-1")
        // With people_check: declared (nothing counted) the review still applies.
        XCTAssertTrue(try decide(lab, visible: nil).approved)
        // A review of 0 never goes below a record's people_in_frame.
        let lab2 = try RecordLab()
        lab2.trust("office", roles: [.authorize, .review])
        try lab2.write(try lab2.authorization("AUTH-1", subject: "P-1", people: 2))
        try write(lab2, try review("REV-0", people: 0), key: "office")
        XCTAssertEqual(try decide(lab2, visible: VisiblePeople(faces: 0)).reasons.map(\.description).count, 1)
        XCTAssertFalse(try decide(lab2, visible: VisiblePeople(faces: 0)).approved)
        // A review that says more people than consented keeps it pending, in the review's words.
        let lab3 = try RecordLab()
        lab3.trust("office", roles: [.authorize, .review])
        try lab3.write(try lab3.authorization("AUTH-1", subject: "P-1"))
        try write(lab3, try review("REV-3", people: 3), key: "office")
        let more = try decide(lab3, visible: VisiblePeople(faces: 1))
        XCTAssertFalse(more.approved)
        XCTAssertEqual(
            more.reasons.first?.description,
            "3 people are visible (by a review) and 1 has consented: record the others' authorizations, or a review")
    }

    func testAReviewNeedsTheRoleReview() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", subject: "P-1"))
        try write(lab, try review("REV-1", people: 1), key: "office")
        let registry = try lab.registry()
        XCTAssertEqual(registry.reviews.count, 0)
        XCTAssertEqual(registry.invalid.map(\.id), ["REV-1"], "\(registry.invalid)")
    }

    func testMinisignVerifiesAReviewAndItReadsBackExactly() throws {
        let minisign = try Fixtures.requireTool("minisign")
        let lab = try RecordLab()
        let key = lab.trust("reviewer", roles: [.review])
        let record = try review("REV-9", people: 2)
        try write(lab, record, key: "reviewer")
        let pub = lab.folder.appendingPathComponent("reviewer.pub")
        try key.publicKey.fileText.write(to: pub, atomically: true, encoding: .utf8)
        let path = lab.records.appendingPathComponent("REV-9.json").path
        let result = try Fixtures.run(minisign, ["-V", "-m", path, "-p", pub.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("type=consentgate.review/v1 id=REV-9"), result.output)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(try RecordParser.parse(bytes), .review(record))
        XCTAssertEqual(try lab.registry().reviews.values.flatMap { $0 }.map(\.id), ["REV-9"])
    }

    func testStrictReadingRefusesWhatAReviewMustNotSay() throws {
        func refusal(_ text: String) -> String? {
            do {
                _ = try RecordParser.parse(Array(text.utf8))
                return nil
            } catch { return error.reason }
        }
        let sha = String(repeating: "a", count: 64)
        let head = #"{"type":"consentgate.review/v1","id":"REV-1","#
        XCTAssertNil(refusal(head + #""presented_sha256":"\#(sha)","people_visible":2}"#))
        XCTAssertNotNil(refusal(head + #""presented_sha256":"\#(sha)"}"#), "people_visible is required")
        XCTAssertNotNil(refusal(head + #""presented_sha256":"\#(sha)","people_visible":-1}"#))
        XCTAssertNotNil(refusal(head + #""presented_sha256":"\#(sha)","people_visible":1.5}"#))
        XCTAssertNotNil(refusal(head + #""people_visible":1}"#), "a fingerprint is required")
        XCTAssertNotNil(
            refusal(head + #""presented_sha256":"\#(sha)","file_sha256":"\#(sha)","people_visible":1}"#),
            "exactly one fingerprint")
        XCTAssertNotNil(refusal(head + #""presented_sha256":"ABC","people_visible":1}"#))
        XCTAssertNotNil(refusal(head + #""presented_sha256":"\#(sha)","people_visible":1,"name":"Jane"}"#))
    }
}
