import Foundation
import TestSupport
import XCTest

/// Issue 28: a run verifies only the record signatures its ledger has not seen verified (same record bytes, same
/// signature file, same key, same trust file); everything else about a record is checked on every run.
final class SignatureCacheTests: PipelineTestCase {
    func verified(_ summary: [String: Any]) -> Int { summary["signatures_verified"] as? Int ?? -1 }

    func testOnlyNewOrChangedRecordsAreVerifiedAndAChangedTrustFileStartsAfresh() throws {
        let first = try runPipeline()
        let all = verified(first.summary)
        XCTAssertGreaterThan(all, 3, "\(first.summary)")
        XCTAssertEqual(verified(try runPipeline().summary), 0, "unchanged records were verified again")
        // A record whose bytes change is verified again, and its now-bad signature refuses it (every run: a
        // failed verification is never remembered).
        let record = records.appendingPathComponent("AUTH-DEMO-0001.json")
        var text = try String(contentsOf: record, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"AUTH-DEMO-0001\"", with: "\"AUTH-DEMO-0001\" ")
        try text.write(to: record, atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let changed = try runPipeline()
            XCTAssertEqual(verified(changed.summary), 1, "\(changed.summary)")
            let invalid = summaryList(changed.summary, "invalid_records")
            XCTAssertTrue(
                invalid.contains {
                    $0["file"] as? String == "AUTH-DEMO-0001.json"
                        && ($0["reason"] as? String ?? "").contains("signature invalid")
                }, "\(invalid)")
        }
        // A dropped picture that the changed record named is quarantined, not published from the memory.
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let refused = try runPipeline()
        XCTAssertEqual(refused.summary["published"] as? Int, 0, "\(refused.summary)")
        // Another trust file: every signature is verified again.
        let trust = root.appendingPathComponent("trust.yml")
        try (try String(contentsOf: trust, encoding: .utf8) + "\n# changed\n").write(
            to: trust, atomically: true, encoding: .utf8)
        chmod(trust.path, 0o644)
        XCTAssertEqual(verified(try runPipeline().summary), all)
    }
}
