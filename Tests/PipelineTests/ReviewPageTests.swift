import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// The privacy office's review page and the audit report for people, through the built binary: one card per
/// quarantined file, previews that carry no metadata, placeholders, escaped names, the authorize line, and an
/// audit page that reads as words and marks a retraction.
final class ReviewPageTests: PipelineTestCase {
    func review() throws -> (status: Int32, html: String, path: String) {
        let out = root.appendingPathComponent("review.html").path
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["review", "--pipeline", pipeline, "--out", out])
        let html = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return (outcome.status, html, out)
    }

    /// The bytes of every `data:` URI on the page.
    func dataURIs(_ html: String) -> [[UInt8]] {
        html.components(separatedBy: "src=\"data:image/jpeg;base64,").dropFirst().compactMap { rest in
            Data(base64Encoded: String(rest.prefix { $0 != "\"" })).map { Array($0) }
        }
    }

    func reasonFiles() throws -> [[String: Any]] {
        try files(folder("quarantine")).filter { $0.hasSuffix(".reason.json") }.map { name in
            let data = try Data(contentsOf: folder("quarantine").appendingPathComponent(name))
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
    }

    /// A short MP4 that no record lists (ffmpeg), for the video placeholder.
    func unrecordedClip() throws -> URL {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let url = root.appendingPathComponent("clip.mp4")
        let outcome = try Fixtures.run(
            ffmpeg,
            [
                "-v", "error", "-f", "lavfi", "-i", "smptebars=size=80x48:rate=5:duration=1", "-pix_fmt", "yuv420p",
                "-y", url.path,
            ])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return url
    }

    func testTheReviewPageHasACardPerQuarantinedFileWithMetadataFreePreviews() throws {
        // Quarantined under the demo records: the portrait (revoked), the YCCK print (one of two people consented),
        // the screenshot (PNG; channel print only), a file that is not a picture, and a clip no record lists.
        for name in ["demo-portrait.jpg", "demo-ycck-print.jpg", "not-a-picture.jpg"] {
            try drop(name, as: name)
        }
        try FileManager.default.createDirectory(
            at: inbox.appendingPathComponent("ward-7"), withIntermediateDirectories: true)
        try drop("demo-screenshot.png", as: "ward-7/screenshot.png")
        // A hostile name: `<script>alert(1)<` is a subfolder, `script>.jpg` the file in it.
        try FileManager.default.createDirectory(
            at: inbox.appendingPathComponent("<script>alert(1)<"), withIntermediateDirectories: true)
        try drop("demo-portrait.jpg", as: "<script>alert(1)</script>.jpg", trailer: Array("x".utf8))
        // A truncated JPEG: it must get a card (a placeholder), not crash the page.
        let camera = try Fixtures.sample("demo-camera-photo.jpg")
        try Data(camera.prefix(camera.count / 2)).write(to: inbox.appendingPathComponent("truncated.jpg"))
        try FileManager.default.copyItem(at: try unrecordedClip(), to: inbox.appendingPathComponent("clip.mp4"))
        XCTAssertEqual(try runPipeline().status, 1)

        let quarantined = files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        XCTAssertEqual(quarantined.count, 7, "\(quarantined)")
        let page = try review()
        XCTAssertEqual(page.status, 0)
        let mode = try FileManager.default.attributesOfItem(atPath: page.path)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
        XCTAssertEqual(page.html.components(separatedBy: "<article class=\"card").count - 1, quarantined.count)

        // Previews for the JPEGs and the PNG, each a plain JPEG: no APPn marker, none of the original's metadata.
        let previews = dataURIs(page.html)
        XCTAssertEqual(previews.count, 4, "portrait, print, hostile-named portrait, screenshot")
        for preview in previews {
            XCTAssertEqual(Array(preview.prefix(2)), [0xFF, 0xD8])
            XCTAssertFalse((0xE0...0xEF).contains(preview[3]), "an APPn marker in the preview")
            let text = String(decoding: preview, as: UTF8.self)
            for leak in ["Exif", "DemoCam", "Demo-Doe", "DEMO-SN", "JFIF", "ICC_PROFILE", "http://ns.adobe.com"] {
                XCTAssertFalse(text.contains(leak), "\(leak) in a preview")
            }
            let report = Inspector.inspect(preview)
            XCTAssertEqual(report.format, .jpeg)
            XCTAssertEqual(report.metadata.count, 0, "\(report.metadata)")
            XCTAssertLessThanOrEqual(max(report.image?.width ?? 999, report.image?.height ?? 999), 256)
        }
        for leak in ["DemoCam", "DEMO-SN", "Demo-Doe"] { XCTAssertFalse(page.html.contains(leak), leak) }
        XCTAssertTrue(page.html.contains("video: no preview"))
        XCTAssertTrue(page.html.contains("not a picture or video: nothing to show"))
        XCTAssertTrue(page.html.contains("damaged picture: no preview"), "the truncated JPEG")

        // The hostile name is text, never markup; the page has no script at all.
        XCTAssertFalse(page.html.lowercased().contains("<script"))
        XCTAssertTrue(page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.jpg"))

        // Where and when, in words, and the authorize line with the picture's own fingerprint.
        let reasons = try reasonFiles()
        let screenshot = try XCTUnwrap(reasons.first { $0["original_name"] as? String == "ward-7/screenshot.png" })
        let content = try XCTUnwrap(screenshot["presented_sha256"] as? String)
        XCTAssertTrue(page.html.contains("Dropped into the inbox folder “ward-7”"))
        XCTAssertTrue(
            page.html.contains("--channels website --expires YYYY-MM-DD --presented-sha256 \(content) --out "),
            "no authorize line for the screenshot")
        XCTAssertTrue(page.html.contains("Not everyone in the picture has consented."))
        XCTAssertTrue(page.html.contains("It is not a picture or video."))
        XCTAssertFalse(page.html.contains("<b>no_record</b>"))
    }

    func testAReviewOfAnEmptyQuarantineAndABadPipeline() throws {
        XCTAssertEqual(try runPipeline().status, 0)
        let page = try review()
        XCTAssertEqual(page.status, 0)
        XCTAssertTrue(page.html.contains("Nothing is in quarantine"))
        let bad = try Fixtures.run(
            try Fixtures.consentgate,
            ["review", "--pipeline", root.appendingPathComponent("missing.yml").path, "--out", page.path + "2"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: page.path + "2"))
    }

    func testHostileAndTruncatedJPEGsGiveNoPreviewAndNoCrash() throws {
        let camera = try Fixtures.sample("demo-camera-photo.jpg")
        var hostile: [[UInt8]] = [
            Array(camera.prefix(camera.count / 2)), Array(camera.prefix(700)), [0xFF, 0xD8, 0xFF, 0xD9],
            [0xFF, 0xD8] + Array(repeating: 0xFF, count: 64),
        ]
        // Flip bytes in the scan data at a few places.
        for seed in 0..<8 {
            var bytes = camera
            for step in 0..<16 { bytes[(camera.count / 3 + seed * 977 + step * 131) % camera.count] ^= 0x5A }
            hostile.append(bytes)
        }
        for bytes in hostile {
            if let preview = try? Preview.make(bytes, format: .jpeg) {
                XCTAssertEqual(Array(preview.jpeg.prefix(2)), [0xFF, 0xD8])
            }
        }
        XCTAssertThrowsError(try Preview.make(Array(camera.prefix(camera.count / 2)), format: .jpeg))
        XCTAssertThrowsError(try Preview.make(Array(repeating: 0, count: 100), format: .png))
        let whole = try Preview.make(camera, format: .jpeg)
        XCTAssertLessThanOrEqual(max(whole.width, whole.height), 256)
        XCTAssertThrowsError(try Preview.make(camera, format: .jpeg, limits: MediaLimits(maxPixels: 100)))
    }

    func testAPreviewStandsUprightAsItsOrientationSays() throws {
        // demo-phone-photo.jpg is stored landscape with Orientation 6 (rotate 90° clockwise to view).
        let phone = try Fixtures.sample("demo-phone-photo.jpg")
        let header = try ImageCodec.readHeader(.jpeg, phone, limits: MediaLimits())
        XCTAssertGreaterThan(header.width, header.height)
        let preview = try Preview.make(phone, format: .jpeg)
        XCTAssertLessThan(preview.width, preview.height)
    }

    func testTheAuditPageMarksARetractionAndReadsAsWords() throws {
        try drop("demo-group-photo.jpg", as: "group.jpg")  // AUTH-DEMO-0006
        try drop("demo-phone-photo.jpg", as: "phone.jpg")  // AUTH-DEMO-0001
        try drop("demo-portrait.jpg", as: "portrait.jpg")  // revoked from the start
        _ = try runPipeline()
        let published = files(folder("publish"))
        XCTAssertEqual(published.count, 2)
        // The group photo's patient revokes consent: the next run retracts it.
        let authorization = "AUTH-DEMO-0006"
        try revoke(authorization)
        XCTAssertEqual(try runPipeline().status, 1)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='retracted'"), "1")

        let out = root.appendingPathComponent("audit.html").path
        let outcome = try Fixtures.run(
            try Fixtures.consentgate, ["audit", "report", "--pipeline", pipeline, "--format", "html", "--out", out])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertTrue(html.contains("The ledger is intact"))
        XCTAssertTrue(html.contains("no longer published"), "the retracted publication is marked")
        XCTAssertTrue(html.contains(">live now<"), "a live publication is marked")
        XCTAssertTrue(html.contains("The patient revoked consent."))
        XCTAssertTrue(html.contains(authorization + " <span class=\"minor\">(revoked "), "the revocation and expiry")
        for kind in ["Published", "Quarantined", "Retracted", "Taken in", "Record seen"] {
            XCTAssertTrue(html.contains("<dt>\(kind)</dt>"), "legend: \(kind)")
        }
        // Codes are never the text of a cell, only a tooltip.
        for code in ["revoked", "no_record", "not_everyone_consented", "expired"] {
            XCTAssertFalse(html.contains(">\(code)<"), code)
        }
        // Times are real and in order.
        let times = html.components(separatedBy: "<td class=\"when\">").dropFirst().map { String($0.prefix(24)) }
        XCTAssertGreaterThan(times.count, 3)
        let json = root.appendingPathComponent("audit.json").path
        XCTAssertEqual(
            try Fixtures.run(
                try Fixtures.consentgate,
                ["audit", "report", "--pipeline", pipeline, "--format", "json", "--out", json]
            ).status, 0)
        let report = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        XCTAssertEqual(report["chain_intact"] as? Bool, true)
        XCTAssertNotNil(report["events"] as? [[String: Any]])
        XCTAssertEqual((report["live_publications"] as? [Any])?.count, published.count - 1)
    }
}
