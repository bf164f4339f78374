import Foundation
import TestSupport
import XCTest

/// Consent per visible person in videos (issue 24): the sandboxed worker decodes about one frame a second and the
/// most faces seen in one frame is the count. Videos made by ffmpeg from SampleMedia's public-domain face pictures.
extension PeopleCheckTests {
    /// Makes the video, drops it in the inbox as `name` and returns its presented_sha256 (what authorizations name).
    func dropVideo(_ parts: [String], as name: String) throws -> String {
        let made = root.appendingPathComponent("made-\(name)")
        try FaceVideos.make(parts, output: made)
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["inspect", "--json", made.path])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let report = try XCTUnwrap((try JSONSerialization.jsonObject(with: outcome.stdout)) as? [String: Any])
        try FileManager.default.copyItem(at: made, to: inbox.appendingPathComponent(name))
        return try XCTUnwrap(report["presented_sha256"] as? String)
    }

    func testAVideoWhereMorePeopleAppearAfterSomeSecondsWaitsWithOneConsent() throws {
        // 3 s of one person, then 3 s of three people, in one GOP: one consent is not enough.
        let content = try dropVideo(["faces-one-person.jpg", "faces-group-of-three.jpg"], as: "clip.mp4")
        try authorize("P-VIDEO-1", content)
        let first = try runPipeline()
        XCTAssertEqual(first.summary["published"] as? Int, 0, "\(first.summary)")
        XCTAssertEqual(first.summary["quarantined"] as? Int, 1, "\(first.summary)")
        // Decoded in the sandboxed worker: libavcodec needs no call outside the allowlist (or SIGSYS: reader_failed).
        XCTAssertNil(first.summary["unsandboxed"], "\(first.summary)")
        let entry = try XCTUnwrap(try quarantineList().first)
        XCTAssertEqual(entry["pending"] as? Bool, true, "\(entry)")
        let messages = (entry["reasons"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
        XCTAssertTrue(messages.contains { $0.contains("3 people are visible and 1 has consented") }, "\(messages)")
        XCTAssertEqual(files(folder("publish")), [])
        // The others consent: the next run publishes it.
        try authorize("P-VIDEO-2", content)
        try authorize("P-VIDEO-3", content)
        let released = try runPipeline()
        XCTAssertEqual(released.summary["released"] as? Int, 1, "\(released.summary)")
        XCTAssertEqual(files(folder("publish")).count, 1)
    }

    func testAVideoWithoutPeoplePublishesWithOneConsent() throws {
        let content = try dropVideo(["faces-no-people.jpg"], as: "landscape.mp4")
        try authorize("P-VIDEO-NONE", content)
        let run = try runPipeline()
        XCTAssertEqual(run.summary["published"] as? Int, 1, "\(run.summary)")
        XCTAssertTrue(
            (run.summary["people_check"] as? String ?? "").contains("pictures and videos (about one frame a second, at most 60) are looked at"),
            "\(run.summary)")
    }

    /// Makes `name` from faces-group-of-three.jpg with `tool`, drops it and returns its presented_sha256.
    func dropPicture(_ name: String, _ tool: String, _ arguments: (String, String) -> [String]) throws -> String {
        let made = root.appendingPathComponent("made-\(name)")
        let source = Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path
        let outcome = try Fixtures.run(try Fixtures.requireTool(tool), arguments(source, made.path))
        XCTAssertEqual(outcome.status, 0, outcome.output)
        let inspected = try Fixtures.run(try Fixtures.consentgate, ["inspect", "--json", made.path])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        let report = try XCTUnwrap((try JSONSerialization.jsonObject(with: inspected.stdout)) as? [String: Any])
        try FileManager.default.copyItem(at: made, to: inbox.appendingPathComponent(name))
        return try XCTUnwrap(report["presented_sha256"] as? String)
    }

    func testGroupPicturesInHEICAVIFWebPAndGIFWaitWithOneConsent() throws {
        let png = root.appendingPathComponent("group.png").path
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let source = Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path
        XCTAssertEqual(try Fixtures.run(ffmpeg, ["-v", "error", "-y", "-i", source, png]).status, 0)
        let contents = [
            try dropPicture("group.gif", "ffmpeg") { ["-v", "error", "-y", "-i", $0, $1] },
            try dropPicture("group.webp", "ffmpeg") { ["-v", "error", "-y", "-i", $0, "-c:v", "libwebp", $1] },
            try dropPicture("group.heic", "heif-enc") { _, out in ["-q", "90", png, "-o", out] },
            // AV1 through libdav1d, which sizes its thread pool from the affinity mask (the allowlist's
            // sched_getaffinity): without it the worker dies with SIGSYS and the picture is not counted.
            try dropPicture("group.avif", "heif-enc") { _, out in ["-A", "-q", "80", png, "-o", out] },
        ]
        for (index, content) in contents.enumerated() { try authorize("P-PICTURE-\(index)", content) }
        let run = try runPipeline()
        XCTAssertEqual(run.summary["published"] as? Int, 0, "\(run.summary)")
        XCTAssertEqual(run.summary["quarantined"] as? Int, 4, "\(run.summary)")
        let entries = try quarantineList()
        XCTAssertEqual(entries.count, 4)
        for entry in entries {
            XCTAssertEqual(entry["pending"] as? Bool, true, "\(entry)")
            let messages = (entry["reasons"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
            XCTAssertTrue(messages.contains { $0.contains("3 people are visible and 1 has consented") }, "\(entry)")
        }
    }
}
