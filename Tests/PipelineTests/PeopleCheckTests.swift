import Foundation
import TestSupport
import XCTest

/// Consent per visible person (issue #24): the faces the sandboxed reader counts decide how many distinct subjects
/// must consent. Pictures: SampleMedia/faces-* (made from public-domain NASA photographs, SampleMedia/README.md).
final class PeopleCheckTests: PipelineTestCase {
    func quarantineList() throws -> [[String: Any]] {
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["quarantine", "list", "--pipeline", pipeline, "--json"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return (try JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]] ?? []
    }

    func presented(_ sample: String) throws -> String {
        let outcome = try Fixtures.run(
            try Fixtures.consentgate, ["inspect", "--json", Fixtures.sampleMedia.appendingPathComponent(sample).path])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let report = try XCTUnwrap((try JSONSerialization.jsonObject(with: outcome.stdout)) as? [String: Any])
        return try XCTUnwrap(report["presented_sha256"] as? String)
    }

    /// One subject's authorization of the picture `content` on the website.
    func authorize(_ subject: String, _ content: String, extra: [String] = []) throws {
        let outcome = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--subject", subject, "--channels", "website",
                "--effective", "2026-01-01", "--expires", "2036-01-01", "--out", records.path, "--id", "AUTH-\(subject)",
                "--presented-sha256", content,
            ] + extra)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
    }

    func testAGroupPictureWaitsUntilEveryVisiblePersonHasConsented() throws {
        let content = try presented("faces-group-of-three.jpg")
        try authorize("P-FACE-1", content)
        try drop("faces-group-of-three.jpg", as: "group.jpg")
        let first = try runPipeline()
        XCTAssertEqual(first.summary["published"] as? Int, 0, "\(first.summary)")
        XCTAssertEqual(first.summary["quarantined"] as? Int, 1, "\(first.summary)")
        // Counted in the sandboxed workers (seccomp filter, limits): the detector needs no call outside the
        // allowlist, or the worker would have died (SIGSYS) and the picture been quarantined as reader_failed.
        XCTAssertNil(first.summary["unsandboxed"], "\(first.summary)")
        XCTAssertTrue((first.summary["people_check"] as? String ?? "").hasPrefix("people_check: faces"), "\(first.summary)")
        let entry = try XCTUnwrap(try quarantineList().first)
        XCTAssertEqual(entry["pending"] as? Bool, true, "\(entry)")
        let messages = (entry["reasons"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
        XCTAssertTrue(
            messages.contains { $0.contains("3 people are visible and 1 has consented") }, "\(messages)")
        // A second consent is not enough; the third releases it on the next run.
        try authorize("P-FACE-2", content)
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 0)
        XCTAssertEqual(files(folder("publish")), [])
        try authorize("P-FACE-3", content)
        let released = try runPipeline()
        XCTAssertEqual(released.summary["released"] as? Int, 1, "\(released.summary)")
        XCTAssertEqual(files(folder("publish")).count, 1)
        let detail = try sql("SELECT detail FROM events WHERE kind IN ('published','released')")
        XCTAssertTrue(detail.contains("\"source\":\"detector\""), detail)
        XCTAssertTrue(detail.contains("\"count\":3"), detail)
        // The audit report shows the count each publication used and where it came from.
        let report = root.appendingPathComponent("audit.html").path
        let audit = try Fixtures.run(
            try Fixtures.consentgate, ["audit", "report", "--pipeline", pipeline, "--format", "html", "--out", report])
        XCTAssertEqual(audit.status, 0, audit.output)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(html.contains("(3 people (detector))"), html)
    }

    func testAPictureOfOnePersonOrNoneStillPublishesWithOneConsent() throws {
        for (index, sample) in ["faces-one-person.jpg", "faces-no-people.jpg"].enumerated() {
            try authorize("P-SOLO-\(index)", try presented(sample))
            try drop(sample, as: "solo-\(index).jpg")
        }
        let run = try runPipeline()
        XCTAssertEqual(run.status, 0, "\(run.summary)")
        XCTAssertEqual(run.summary["published"] as? Int, 2, "\(run.summary)")
    }

    func testDeclaredKeepsTheOldRuleAndSaysSo() throws {
        try writePipeline(settle: 0, extra: "people_check: declared")
        try authorize("P-DECL-1", try presented("faces-group-of-three.jpg"))
        try drop("faces-group-of-three.jpg", as: "group.jpg")
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline], timeout: 120)
        XCTAssertEqual(outcome.status, 0, outcome.text + outcome.stderr)
        XCTAssertEqual(files(folder("publish")).count, 1)
        XCTAssertTrue(
            (outcome.text + outcome.stderr).contains("people_check: declared"), outcome.text + outcome.stderr)
    }
}

extension PeopleCheckTests {
    func testASignedReviewReleasesAPictureTheDetectorOvercountsAndTheLedgerNamesIt() throws {
        let content = try presented("faces-group-of-three.jpg")
        try authorize("P-REV-1", content)
        try drop("faces-group-of-three.jpg", as: "group.jpg")
        XCTAssertEqual(try runPipeline().summary["quarantined"] as? Int, 1)
        // The office's key may sign reviews (the role review).
        let trust = root.appendingPathComponent("trust.yml")
        let text = try String(contentsOf: trust, encoding: .utf8)
        XCTAssertTrue(text.contains("roles: [authorize, revoke, takedown]"))
        try text.replacingOccurrences(
            of: "roles: [authorize, revoke, takedown]", with: "roles: [authorize, revoke, takedown, review]"
        ).write(to: trust, atomically: true, encoding: .utf8)
        chmod(trust.path, 0o644)
        // The privacy office looks: the three faces are one person shown three times.
        let written = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "review-record", "--key", try demoKey(), "--id", "REV-GROUP-1", "--people", "1", "--note",
                "one person shown three times", "--out", records.path, "--presented-sha256", content,
            ])
        XCTAssertEqual(written.status, 0, written.output)
        let verify = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "records", "verify", "--authorizations", records.path, "--trust",
                root.appendingPathComponent("trust.yml").path,
            ])
        XCTAssertTrue(verify.text.contains(" 0 invalid"), verify.output)
        let released = try runPipeline()
        XCTAssertEqual(released.summary["released"] as? Int, 1, "\(released.summary)")
        let detail = try sql("SELECT detail FROM events WHERE kind IN ('published','released')")
        XCTAssertTrue(detail.contains("\"review\":\"REV-GROUP-1\""), detail)
        XCTAssertTrue(detail.contains("\"source\":\"review\""), detail)
    }
}

extension PeopleCheckTests {
    func testTheReviewPageAndTheQuarantineListShowTheFacesAndTheConsents() throws {
        try authorize("P-PAGE-1", try presented("faces-group-of-three.jpg"))
        try drop("faces-group-of-three.jpg", as: "group.jpg")
        XCTAssertEqual(try runPipeline().summary["quarantined"] as? Int, 1)
        let entry = try XCTUnwrap(try quarantineList().first)
        let people = try XCTUnwrap(entry["people"] as? [String: Any], "\(entry)")
        XCTAssertEqual(people["faces"] as? Int, 3)
        XCTAssertEqual(people["consented"] as? Int, 1)
        XCTAssertEqual(people["source"] as? String, "detector")
        XCTAssertEqual((people["boxes"] as? [[Int]])?.count, 3)
        let page = root.appendingPathComponent("review.html").path
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["review", "--pipeline", pipeline, "--out", page])
        XCTAssertEqual(outcome.status, 0, outcome.output)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.contains("3 faces found in the picture (numbered on the preview); 1 has consented."), html)
        XCTAssertEqual(html.components(separatedBy: "<rect ").count - 1, 3, "three numbered boxes")
        XCTAssertTrue(html.contains(">3</text>"))
        // check says the same before anything is dropped.
        let check = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "check", "--pipeline", pipeline, "--json",
                Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path,
            ])
        XCTAssertEqual(check.status, 1, check.output)
        let report = try XCTUnwrap((try JSONSerialization.jsonObject(with: check.stdout)) as? [String: Any])
        let checked = try XCTUnwrap(report["people"] as? [String: Any], "\(report)")
        XCTAssertEqual(checked["count"] as? Int, 3)
        XCTAssertEqual(checked["source"] as? String, "detector")
        XCTAssertEqual(checked["consented"] as? Int, 1)
        let faces = try XCTUnwrap(checked["faces"] as? [String: Any])
        XCTAssertEqual((faces["boxes"] as? [Any])?.count, 3)
        // inspect --json reports the count and the boxes too.
        let inspect = try Fixtures.run(
            try Fixtures.consentgate,
            ["inspect", "--json", Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path])
        let inspected = try XCTUnwrap((try JSONSerialization.jsonObject(with: inspect.stdout)) as? [String: Any])
        XCTAssertEqual((inspected["faces"] as? [String: Any])?["count"] as? Int, 3, "\(inspected)")
    }
}
