import Foundation
import TestSupport
import XCTest

/// Incident response end to end through the binary: two pipelines (website, instagram) share one ledger; pictures
/// are published under records signed by two keys; `incident scope`, `takedown`, `lift` and `report`.
final class IncidentTests: PipelineTestCase {
    var pipeline2: String { root.appendingPathComponent("pipeline2.yml").path }
    var notified: URL { root.appendingPathComponent("notified.jsonl") }
    var secondKey: String { root.appendingPathComponent("second.key").path }
    var secondKeyID = ""
    let demoKeyID = "54C609A27B8C0837"

    /// Two pipelines on one ledger with a notify log; a second key (roles authorize, takedown) in the trust file;
    /// `count` pictures, the first two recorded under AUTH-K1 (DEMO key), the others one record each
    /// (AUTH-K2-n, the second key). Returns the pictures.
    func setUpTwoPipelines(pictures count: Int) throws -> [URL] {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        try "#!/bin/sh\ncat >> \(notified.path)\necho >> \(notified.path)\n".write(
            to: root.appendingPathComponent("notify.sh"), atomically: true, encoding: .utf8)
        chmod(root.appendingPathComponent("notify.sh").path, 0o755)
        try writePipeline(settle: 0, extra: "notify: notify.sh")
        try """
        name: test-instagram
        channel: instagram
        folders: {inbox: inbox2, publish: out2/publish, quarantine: out2/quarantine, archive: out2/archive, retracted: out2/retracted}
        authorizations: authorizations
        trust: trust.yml
        ledger: out/ledger.sqlite
        settle_seconds: 0
        notify: notify.sh
        """.write(toFile: pipeline2, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("inbox2"), withIntermediateDirectories: true)
        let generated = try Fixtures.run(
            try Fixtures.consentgate, ["keys", "generate", "--name", "second", "--dir", root.path])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let pub = try String(contentsOfFile: root.appendingPathComponent("second.pub").path, encoding: .utf8)
            .split(separator: "\n")
        secondKeyID = String(pub[0].split(separator: " ").last!)
        let trust = root.appendingPathComponent("trust.yml")
        let entry = """
            - key_id: "\(secondKeyID)"
              public_key: "\(pub[1])"
              roles: [authorize, takedown]
              valid_from: "2026-01-01"
              status: active

            """
        // The DEMO key keeps authorize and revoke only here: it stands for a key without the role takedown.
        let demoOnly = try String(contentsOf: trust, encoding: .utf8).replacingOccurrences(
            of: "roles: [authorize, revoke, takedown]", with: "roles: [authorize, revoke]")
        try (demoOnly + "\n" + entry).write(
            to: trust, atomically: true, encoding: .utf8)
        chmod(trust.path, 0o644)
        let folder = root.appendingPathComponent("pictures")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let made = try Fixtures.run(
            ffmpeg,
            [
                "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=1", "-frames:v", String(count), "-q:v",
                "2", "-y", folder.appendingPathComponent("p%03d.jpg").path,
            ])
        XCTAssertEqual(made.status, 0, made.stderr)
        let pictures = (1...count).map { folder.appendingPathComponent(String(format: "p%03d.jpg", $0)) }
        func authorize(_ id: String, _ key: String, _ subject: String, _ files: [URL]) throws {
            let outcome = try Fixtures.run(
                try Fixtures.consentgate,
                [
                    "authorize", "--key", key, "--id", id, "--subject", subject, "--channels", "website,instagram",
                    "--effective", "2026-01-01", "--expires", "2036-01-01", "--out", records.path,
                ] + files.map(\.path))
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
        }
        try authorize("AUTH-K1", try demoKey(), "P-1", Array(pictures.prefix(2)))
        for (index, picture) in pictures.dropFirst(2).enumerated() {
            try authorize("AUTH-K2-\(index + 1)", secondKey, "P-\(index + 2)", [picture])
        }
        return pictures
    }

    func dropPicture(_ picture: URL, pipeline number: Int, as name: String) throws {
        let inbox = number == 1 ? inbox : root.appendingPathComponent("inbox2")
        try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent(name))
    }

    func run(_ number: Int) throws -> (status: Int32, summary: [String: Any]) {
        if number == 1 { return try runPipeline() }
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline2, "--json"], timeout: 120)
        let list = (try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]]
        return (outcome.status, list?.first ?? ["stderr": outcome.stderr])
    }

    func incident(_ arguments: [String]) throws -> Fixtures.Outcome {
        try Fixtures.run(try Fixtures.consentgate, ["incident"] + arguments)
    }

    /// `incident scope --json` for these selectors: the publications listed.
    func scope(_ selectors: [String]) throws -> [[String: Any]] {
        let outcome = try incident(["scope", "--pipeline", pipeline, "--json"] + selectors)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
        return object["publications"] as? [[String: Any]] ?? []
    }

    /// The notices of a kind, as the notify command received them.
    func notices(_ event: String) throws -> [[String: Any]] {
        guard let text = try? String(contentsOf: notified, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["event"] as? String == event }
    }

    func published(_ number: Int) -> Set<String> {
        Set(files(number == 1 ? folder("publish") : root.appendingPathComponent("out2/publish")))
    }

    func testATakedownByKeyWithdrawsExactlyWhatTheKeySignedOnEveryPipelineUntilASignedLift() throws {
        let pictures = try setUpTwoPipelines(pictures: 4)
        for (index, picture) in pictures.enumerated() {
            try dropPicture(picture, pipeline: 1, as: "site-\(index).jpg")
            try dropPicture(picture, pipeline: 2, as: "insta-\(index).jpg")
        }
        for number in [1, 2] {
            let first = try run(number)
            XCTAssertEqual(first.summary["published"] as? Int, 4, "\(first.summary)")
        }
        // Scope: exactly what each key signed, on both pipelines.
        let second = try scope(["--key", secondKeyID])
        XCTAssertEqual(second.count, 4, "\(second)")
        XCTAssertEqual(Set(second.compactMap { $0["pipeline"] as? String }), ["test-website", "test-instagram"])
        XCTAssertTrue(second.allSatisfy { $0["live"] as? Bool == true })
        XCTAssertEqual(
            Set(second.flatMap { $0["records"] as? [String] ?? [] }), ["AUTH-K2-1", "AUTH-K2-2"])
        let demo = try scope(["--key", demoKeyID])
        XCTAssertEqual(demo.count, 4)
        XCTAssertEqual(Set(demo.flatMap { $0["records"] as? [String] ?? [] }), ["AUTH-K1"])
        XCTAssertEqual(try scope(["--key", secondKeyID, "--channel", "instagram"]).count, 2)
        XCTAssertEqual(try scope(["--subject", "p-2"]).count, 2, "subjects without regard to case")
        XCTAssertEqual(try scope(["--key", secondKeyID, "--published-between", "2000-01-01", "2000-12-31"]).count, 0)
        func day(_ offset: Double) -> String {
            String(ISO8601DateFormatter().string(from: Date().addingTimeInterval(offset * 86_400)).prefix(10))
        }
        XCTAssertEqual(try scope(["--key", secondKeyID, "--published-between", day(-1), day(1)]).count, 4)
        XCTAssertEqual(try scope(["--key", secondKeyID, "--in-pipeline", "test-instagram"]).count, 2)
        let keptNames = Set(demo.compactMap { $0["published_name"] as? String })
        let takenAssets = Set(second.compactMap { $0["asset"] as? String })
        // Dry run: lists, writes nothing.
        let dry = try incident([
            "takedown", "--key", secondKeyID, "--reason", "key leaked", "--dry-run", "--pipeline", pipeline,
        ])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.text.contains("would take down 4"), dry.text)
        XCTAssertFalse(files(records).contains { $0.hasPrefix("TD-") })
        let written = try incident([
            "takedown", "--key", secondKeyID, "--reason", "key leaked", "--id", "TD-KEY2", "--signing-key", secondKey,
            "--out", records.path,
        ])
        XCTAssertEqual(written.status, 0, written.stderr)
        // The next run of each pipeline withdraws exactly its two, with one notice each.
        for number in [1, 2] {
            let outcome = try run(number)
            XCTAssertEqual(outcome.summary["retracted"] as? Int, 2, "\(outcome.summary)")
            XCTAssertEqual(published(number).count, 2)
        }
        XCTAssertEqual(published(1).union(published(2)), keptNames, "only what the DEMO key signed stays up")
        let withdrawn = try notices("retracted")
        XCTAssertEqual(withdrawn.count, 4, "\(withdrawn)")
        XCTAssertEqual(Set(withdrawn.compactMap { $0["asset"] as? String }), takenAssets)
        XCTAssertTrue(withdrawn.allSatisfy { ($0["reasons"] as? [String] ?? []).contains("taken_down") })
        XCTAssertTrue(try scope(["--key", secondKeyID]).allSatisfy { $0["live"] as? Bool == false })
        // The report: each withdrawal, nothing still published, the ledger intact.
        let report = try incident(["report", "TD-KEY2", "--pipeline", pipeline, "--json"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let timeline = try XCTUnwrap(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        XCTAssertEqual(timeline["still_published"] as? [String], [])
        XCTAssertEqual(timeline["ledger_intact"] as? Bool, true)
        let items = (timeline["timeline"] as? [[String: Any]] ?? []).compactMap { $0["what"] as? String }
        XCTAssertEqual(items.filter { $0.contains("withdrawn by the takedown") }.count, 4, "\(items)")
        XCTAssertTrue(items.contains { $0.contains("recorded in the ledger") }, "\(items)")
        // A second run withdraws nothing more; a re-drop is quarantined, not published.
        let again = try run(1)
        XCTAssertEqual(again.summary["retracted"] as? Int ?? 0, 0, "\(again.summary)")
        try dropPicture(pictures[2], pipeline: 1, as: "again.jpg")
        let redrop = try run(1)
        XCTAssertEqual(redrop.summary["quarantined"] as? Int, 1, "\(redrop.summary)")
        XCTAssertEqual(published(1).count, 2)
        // The takedown file deleted: still in force (the ledger remembers it).
        for suffix in ["", ".minisig"] {
            try FileManager.default.removeItem(at: records.appendingPathComponent("TD-KEY2.json" + suffix))
        }
        try dropPicture(pictures[3], pipeline: 2, as: "again.jpg")
        let afterDelete = try run(2)
        XCTAssertEqual(afterDelete.summary["quarantined"] as? Int, 1, "\(afterDelete.summary)")
        XCTAssertEqual(published(2).count, 2)
        XCTAssertTrue("\(afterDelete.summary)".contains("TD-KEY2"), "the deleted takedown is not reported")
        // A lift signed by a key without the role takedown lifts nothing.
        let badLift = try incident(["lift", "TD-KEY2", "--key", try demoKey(), "--out", records.path, "--id", "L-BAD"])
        XCTAssertEqual(badLift.status, 0, badLift.stderr)
        try dropPicture(pictures[3], pipeline: 1, as: "third.jpg")
        XCTAssertEqual(try run(1).summary["published"] as? Int ?? 0, 0)
        for suffix in ["", ".minisig"] {
            try FileManager.default.removeItem(at: records.appendingPathComponent("L-BAD.json" + suffix))
        }
        // The signed lift ends it: a new drop is published again.
        let lift = try incident(["lift", "TD-KEY2", "--key", secondKey, "--out", records.path])
        XCTAssertEqual(lift.status, 0, lift.stderr)
        try dropPicture(pictures[2], pipeline: 2, as: "after-lift.jpg")
        let lifted = try run(2)
        XCTAssertEqual(lifted.summary["published"] as? Int, 1, "\(lifted.summary)")
    }

    /// Pipelines sharing a ledger may trust different keys: a lift that only the website's trust file accepts ends
    /// the takedown there, and, once its file is gone, the ledger's memory of it does not end the takedown on the
    /// instagram pipeline, whose trust file never accepted its key.
    func testALiftRememberedByOnePipelineDoesNotEndATakedownOnAnother() throws {
        let pictures = try setUpTwoPipelines(pictures: 3)
        // A third key, trusted for takedowns by the website's trust file only.
        XCTAssertEqual(
            try Fixtures.run(try Fixtures.consentgate, ["keys", "generate", "--name", "lifter", "--dir", root.path]).status, 0)
        let pub = try String(contentsOfFile: root.appendingPathComponent("lifter.pub").path, encoding: .utf8)
            .split(separator: "\n")
        let trust = root.appendingPathComponent("trust.yml")
        let shared = try String(contentsOf: trust, encoding: .utf8)
        try shared.write(to: root.appendingPathComponent("trust-instagram.yml"), atomically: true, encoding: .utf8)
        chmod(root.appendingPathComponent("trust-instagram.yml").path, 0o644)
        try (shared + """

            - key_id: "\(String(pub[0].split(separator: " ").last!))"
              public_key: "\(pub[1])"
              roles: [takedown]
              valid_from: "2026-01-01"
              status: active

            """).write(to: trust, atomically: true, encoding: .utf8)
        chmod(trust.path, 0o644)
        try String(contentsOfFile: pipeline2, encoding: .utf8).replacingOccurrences(
            of: "trust: trust.yml", with: "trust: trust-instagram.yml"
        ).write(toFile: pipeline2, atomically: true, encoding: .utf8)
        try dropPicture(pictures[2], pipeline: 1, as: "site.jpg")
        try dropPicture(pictures[2], pipeline: 2, as: "insta.jpg")
        for number in [1, 2] { XCTAssertEqual(try run(number).summary["published"] as? Int, 1) }
        let takedown = try incident([
            "takedown", "--record", "AUTH-K2-1", "--reason", "filed under the wrong patient", "--id", "TD-ONE",
            "--signing-key", secondKey, "--out", records.path,
        ])
        XCTAssertEqual(takedown.status, 0, takedown.stderr)
        for number in [1, 2] { XCTAssertEqual(try run(number).summary["retracted"] as? Int, 1) }
        let lift = try incident([
            "lift", "TD-ONE", "--key", root.appendingPathComponent("lifter.key").path, "--out", records.path,
            "--id", "LIFT-ONE",
        ])
        XCTAssertEqual(lift.status, 0, lift.stderr)
        _ = try run(1)
        _ = try run(2)
        for suffix in ["", ".minisig"] {
            try FileManager.default.removeItem(at: records.appendingPathComponent("LIFT-ONE.json" + suffix))
        }
        try dropPicture(pictures[2], pipeline: 1, as: "site-again.jpg")
        try dropPicture(pictures[2], pipeline: 2, as: "insta-again.jpg")
        XCTAssertEqual(try run(1).summary["published"] as? Int, 1, "the website accepted the lift")
        let instagram = try run(2)
        XCTAssertEqual(instagram.summary["published"] as? Int ?? 0, 0, "\(instagram.summary)")
        XCTAssertEqual(published(2).count, 0)
    }

    func testAChannelWideTakedownWithdrawsEverythingOnThatChannelAndNothingElse() throws {
        let pictures = try setUpTwoPipelines(pictures: 3)
        for (index, picture) in pictures.enumerated() {
            try dropPicture(picture, pipeline: 1, as: "site-\(index).jpg")
            try dropPicture(picture, pipeline: 2, as: "insta-\(index).jpg")
        }
        XCTAssertEqual(try run(1).summary["published"] as? Int, 3)
        XCTAssertEqual(try run(2).summary["published"] as? Int, 3)
        let refused = try incident([
            "takedown", "--channel", "instagram", "--reason", "account hacked", "--signing-key", secondKey, "--out",
            records.path,
        ])
        XCTAssertEqual(refused.status, 2, "a channel alone, without --all, must be refused")
        let written = try incident([
            "takedown", "--channel", "instagram", "--all", "--reason", "account hacked", "--signing-key", secondKey,
            "--out", records.path,
        ])
        XCTAssertEqual(written.status, 0, written.stderr)
        let website = try run(1)
        XCTAssertEqual(website.summary["retracted"] as? Int ?? 0, 0, "\(website.summary)")
        XCTAssertEqual(published(1).count, 3)
        let instagram = try run(2)
        XCTAssertEqual(instagram.summary["retracted"] as? Int, 3, "\(instagram.summary)")
        XCTAssertEqual(published(2).count, 0)
        XCTAssertEqual(try notices("retracted").count, 3)
        let pagePath = root.appendingPathComponent("scope.html").path
        let pageWritten = try incident(["scope", "--pipeline", pipeline, "--channel", "instagram", "--out", pagePath])
        XCTAssertEqual(pageWritten.status, 0, pageWritten.stderr)
        var info = stat()
        XCTAssertEqual(stat(pagePath, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600, "the page lists every asset and record id: private")
        let page = try incident(["scope", "--pipeline", pipeline, "--channel", "instagram", "--all"])
        XCTAssertEqual(page.status, 0, page.stderr)
        XCTAssertTrue(page.text.contains("<h1>Incident scope</h1>"), page.text)
        XCTAssertFalse(page.text.contains("site-") || page.text.contains("insta-"), "a file name reached the page")
    }

    func testAKillDuringTheTakedownSweepLosesNothingAndLeavesNothingOfItPublished() throws {
        let pictures = try setUpTwoPipelines(pictures: 4)
        for (index, picture) in pictures.enumerated() { try dropPicture(picture, pipeline: 1, as: "p\(index).jpg") }
        XCTAssertEqual(try run(1).summary["published"] as? Int, 4)
        let written = try incident([
            "takedown", "--key", secondKeyID, "--reason", "key leaked", "--signing-key", secondKey, "--out",
            records.path,
        ])
        XCTAssertEqual(written.status, 0, written.stderr)
        // Killed (SIGKILL) once the first withdrawal is moved out of publish, before its event.
        let killed = try Fixtures.run(
            "/usr/bin/env", ["CONSENTGATE_TEST_KILL_AT=withdrawn-one", try Fixtures.consentgate, "run", pipeline])
        XCTAssertNotEqual(killed.status, 0, "the run was not killed: \(killed.output)")
        XCTAssertEqual(published(1).count, 3, "one publication moved out before the kill")
        let next = try run(1)
        XCTAssertEqual(next.summary["retracted"] as? Int, 2, "\(next.summary)")
        XCTAssertEqual(published(1).count, 2)
        XCTAssertTrue(try scope(["--key", secondKeyID]).allSatisfy { $0["live"] as? Bool == false })
        XCTAssertEqual(try scope(["--key", demoKeyID]).filter { $0["live"] as? Bool == true }.count, 2)
        XCTAssertEqual(try notices("retracted").count, 2, "one notice per withdrawn file, none lost")
        let report = try incident([
            "report",
            try XCTUnwrap(files(records).first { $0.hasPrefix("TD-") && $0.hasSuffix(".json") }).replacingOccurrences(
                of: ".json", with: ""), "--pipeline", pipeline, "--json",
        ])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertEqual(
            try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline]).status, 0)
    }

    func testWatchAppliesANewTakedownWithinOneRescan() throws {
        try writePipeline(settle: 0, extra: "rescan_seconds: 2")
        let process = try start(["watch", pipeline])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        var deadline = Date().addingTimeInterval(20)
        while files(folder("publish")).isEmpty && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(files(folder("publish")).count, 1, "watch did not publish the dropped file")
        let written = try incident([
            "takedown", "--record", "AUTH-DEMO-0001", "--reason", "wrong patient", "--signing-key", try demoKey(),
            "--out", records.path,
        ])
        XCTAssertEqual(written.status, 0, written.stderr)
        // No inotify event in the inbox: only the rescan (2 s) can bring it.
        deadline = Date().addingTimeInterval(8)
        while !files(folder("publish")).isEmpty && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(files(folder("publish")), [], "watch did not apply the takedown within a rescan")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    func testTheKeyRecordedAtPublicationFindsItAfterItsRecordFileIsGone() throws {
        let pictures = try setUpTwoPipelines(pictures: 3)
        for (index, picture) in pictures.enumerated() { try dropPicture(picture, pipeline: 1, as: "p\(index).jpg") }
        XCTAssertEqual(try run(1).summary["published"] as? Int, 3)
        for suffix in ["", ".minisig"] {
            try FileManager.default.removeItem(at: records.appendingPathComponent("AUTH-K2-1.json" + suffix))
        }
        XCTAssertEqual(try run(1).summary["retracted"] as? Int, 1, "its record is gone: withdrawn")
        let found = try scope(["--key", secondKeyID])
        XCTAssertEqual(
            found.compactMap { $0["records"] as? [String] }.sorted { $0.description < $1.description },
            [["AUTH-K2-1"]], "the ledger's record of the key finds what the gone record covered")
        XCTAssertEqual(found.first?["live"] as? Bool, false)
        XCTAssertEqual(try scope(["--key", demoKeyID]).count, 2)
    }
}
