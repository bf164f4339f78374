import ConsentRecords
import XCTest

/// Inputs found by the fuzz targets of Fuzz/ (Scripts/fuzz), minimized, that broke a property of the record parsers.
final class RecordFuzzRegressionTests: XCTestCase {
    /// Fuzz/trust.swift: the trust entry `keys generate` prints put a comment inside double quotes raw, so a line
    /// break (folded by YAML), a backslash (an escape) or a control character read back as something else, or not
    /// at all. Minimized: a comment of "y " and a line break.
    func testTrustEntryCommentReadsBack() throws {
        let file = """
            - key_id: "54C609A27B8C0837"
              public_key: "RWQ3CIx7ognGVLkva7964m2Kzd/7grf+Em7d4BqSRyy4uNuU7nCLSevA"
              roles: [authorize]
              valid_from: "2026-01-01"
              status: active
              comment: "y\\x20\\n"

            """
        let key = try XCTUnwrap(try TrustStore.parse(file, source: "fuzz").keys["54C609A27B8C0837"])
        XCTAssertEqual(key.comment, "y \n")
        for comment in ["y \n", "C:\\keys\\office", "tab\there", "bell\u{07}", "nel\u{85}ls\u{2028}", "quote \" ok", "🔑"] {
            let entry = TrustStore.entry(
                for: key.publicKey, roles: [.authorize], validFrom: key.validFrom, comment: comment)
            let back = try TrustStore.parse(entry, source: "entry")
            XCTAssertEqual(back.keys.count, 1)
            XCTAssertEqual(
                back.keys[key.keyID]?.comment, comment.replacingOccurrences(of: "\"", with: "'"), entry)
        }
    }
}
