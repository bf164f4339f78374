import Foundation
import XCTest

@testable import Pipeline

/// The ledger's fast time reader agrees with the ISO 8601 formatter on the ledger's own times, and leaves every
/// other spelling to it.
final class LedgerTimeTests: XCTestCase {
    func testTheFastReaderAgreesWithTheFormatter() throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let millis = UInt64.random(in: 0...4_102_444_800_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let text = Ledger.timestamp(date)
            let fast = try XCTUnwrap(LedgerTime.parse(text), text)
            let slow = try XCTUnwrap(formatter.date(from: text), text)
            XCTAssertEqual(fast.timeIntervalSince1970, slow.timeIntervalSince1970, accuracy: 0.0005, text)
            XCTAssertEqual(Ledger.timestamp(fast), text)
        }
        for other in ["2026-02-30T00:00:00.000Z", "2026-12-07T19:11:48Z", "2026-12-07T19:11:48.123+01:00", "x", ""] {
            XCTAssertNil(LedgerTime.parse(other), other)
        }
        XCTAssertEqual(
            Ledger.parseTimestamp("2026-12-07T19:11:48+01:00"), formatter.date(from: "2026-12-07T19:11:48+01:00"))
    }
}
