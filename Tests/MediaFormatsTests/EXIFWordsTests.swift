import XCTest

@testable import MediaFormats

/// Values a person reads are rendered for people: libexif's "Internal error" strings never reach `inspect`.
final class EXIFWordsTests: XCTestCase {
    func testUnnamedValuesAreSaidForPeople() {
        XCTAssertEqual(EXIF.forPeople("Internal error (unknown value 1)"), "1 (a value the EXIF standard gives no name)")
        XCTAssertEqual(EXIF.forPeople("Inch"), "Inch")
    }

    func testInspectOfTheDemoPhotoHasNoInternalError() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("SampleMedia")
        for name in try FileManager.default.contentsOfDirectory(atPath: url.path) where name.hasSuffix(".jpg") {
            guard let file = try? MediaFile(path: url.appendingPathComponent(name).path),
                case let report = file.inspect()
            else { continue }
            for item in report.metadata {
                XCTAssertFalse(item.value?.contains("Internal error") ?? false, "\(name): \(item.name) = \(item.value ?? "")")
            }
        }
    }
}
