import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// The demo records in SampleMedia give the outcomes Scripts/make-sample-records.sh promises.
final class SampleRecordsTests: XCTestCase {
    func testEachDemoPictureGetsItsOutcome() throws {
        let media = Fixtures.sampleMedia
        let trust = try TrustStore.load(path: media.appendingPathComponent("trust.DEMO.yml").path)
        let now = RecordLab.date("2027-01-15T12:00:00Z")
        let registry = try Registry.load(folder: media.appendingPathComponent("records").path, trust: trust, now: now)
        XCTAssertEqual(registry.invalid.map(\.reason), [])
        func codes(_ picture: String) throws -> [String] {
            let prints = try RecordLab.fingerprints(picture)
            let decision = ConsentPolicy.decide(
                presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, channel: "website",
                registry: registry, now: now)
            return decision.approved ? ["approved"] : decision.reasons.map(\.code)
        }
        XCTAssertEqual(try codes("demo-phone-photo.jpg"), ["approved"])
        XCTAssertEqual(try codes("demo-phone-photo-edited.jpg"), ["approved"])
        XCTAssertEqual(try codes("demo-camera-photo.jpg"), ["expired"])
        XCTAssertEqual(try codes("demo-screenshot.png"), ["channel_not_permitted"])
        XCTAssertEqual(try codes("demo-ycck-print.jpg"), ["not_everyone_consented"])
        XCTAssertEqual(try codes("demo-portrait.jpg"), ["revoked"])
        XCTAssertEqual(try codes("demo-group-photo.jpg"), ["approved"])
        XCTAssertEqual(try codes("demo-clip.mp4"), ["approved"])
        XCTAssertEqual(try codes("demo-phone-photo.heic"), ["approved"])
        // A published (sanitized) copy has another file hash: its content fingerprint alone must find the record.
        for name in ["demo-clip.mp4", "demo-phone-photo.heic", "demo-phone-photo.jpg"] {
            let decision = ConsentPolicy.decide(
                presentedSHA256: try RecordLab.fingerprints(name).presentedSHA256, fileSHA256: nil, channel: "website",
                registry: registry, now: now)
            XCTAssertTrue(decision.approved, "\(name): \(decision.reasons)")
        }
    }
}
