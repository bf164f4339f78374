import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// The third adversarial round: no mistake, file or typo may stop the sweep or destroy data. Each test is the
/// script that found the hole, made to fail on the build that had it.
final class ThirdRoundTests: PipelineTestCase {
    var photo: String { Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path }

    func consentgate(_ arguments: [String]) throws -> Fixtures.Outcome {
        try Fixtures.run(try Fixtures.consentgate, arguments, timeout: 120)
    }

    /// `authorize --supersedes` in another letter case takes the record's own spelling; an id no record has is
    /// refused unless the user says why to go on; the same for `revoke`.
    func testRecordIdsAreCheckedAgainstTheRecordsFolder() throws {
        let base = [
            "authorize", "--key", try demoKey(), "--subject", "P-TEST-9", "--channels", "website", "--expires",
            "2036-01-01", "--out", records.path, "--presented-sha256", String(repeating: "ab", count: 32),
        ]
        let typo = try consentgate(base + ["--id", "AUTH-T-2", "--supersedes", "auth-demo-0001"])
        XCTAssertEqual(typo.status, 0, typo.stderr)
        let written = try String(contentsOf: records.appendingPathComponent("AUTH-T-2.json"), encoding: .utf8)
        XCTAssertTrue(written.contains("\"supersedes\": \"AUTH-DEMO-0001\""), written)
        XCTAssertTrue(typo.stderr.contains("own spelling"), typo.stderr)

        let unknown = try consentgate(base + ["--id", "AUTH-T-3", "--supersedes", "AUTH-NOBODY"])
        XCTAssertEqual(unknown.status, 2, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("--allow-unknown-id"), unknown.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: records.appendingPathComponent("AUTH-T-3.json").path))
        let forced = try consentgate(base + ["--id", "AUTH-T-3", "--supersedes", "AUTH-NOBODY", "--allow-unknown-id"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(forced.stderr.contains("WARNING"), forced.stderr)

        let revoke = ["revoke", "--key", try demoKey(), "--out", records.path, "--authorization"]
        let refused = try consentgate(revoke + ["AUTH-NOBODY-2"])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertEqual(try consentgate(revoke + ["AUTH-NOBODY-2", "--allow-unknown-id"]).status, 0)
    }

    /// A supersedes chain written with a typo in case is revoked whole by the pipeline.
    func testAChainWithATypoInCaseIsRevokedWhole() throws {
        let pictures = try consentedPictures(1)
        try FileManager.default.copyItem(at: pictures[0], to: inbox.appendingPathComponent("a.jpg"))
        let second = try consentgate([
            "authorize", "--key", try demoKey(), "--id", "AUTH-TEST-PICS-2", "--subject", "P-TEST-1", "--channels",
            "website", "--expires", "2036-01-01", "--out", records.path, "--supersedes", "auth-test-pics",
            pictures[0].path,
        ])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 1)
        try revoke("AUTH-TEST-PICS")
        let after = try runPipeline()
        XCTAssertEqual(after.summary["retracted"] as? Int, 1, "\(after.summary)")
        XCTAssertEqual(files(folder("publish")), [])
    }

    /// `check --output` writes a copy to post only when judged as `run` judges, with the pipeline's ledger.
    func testCheckOutputNeedsThePipeline() throws {
        let copy = root.appendingPathComponent("clean.jpg").path
        let bare = try consentgate([
            "check", photo, "--channel", "website", "--authorizations", records.path, "--trust",
            root.appendingPathComponent("trust.yml").path, "--output", copy,
        ])
        XCTAssertEqual(bare.status, 2, bare.output)
        XCTAssertTrue(bare.stderr.contains("--pipeline"), bare.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy))
        // A revocation the ledger remembers, its file deleted since: no copy.
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 1)
        let name = try revoke("AUTH-DEMO-0001")
        XCTAssertEqual(try runPipeline().summary["retracted"] as? Int, 1)
        for suffix in ["", ".minisig"] {
            try FileManager.default.removeItem(at: records.appendingPathComponent(name + suffix))
        }
        let judged = try consentgate(["check", photo, "--pipeline", pipeline, "--output", copy])
        XCTAssertEqual(judged.status, 1, judged.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy))
    }

    /// Every `--out` writes only a new regular file (or one it may replace with --overwrite), never into the
    /// pipeline's folders or over the ledger, a link or a device; `--out -` is standard output.
    func testReportsNeverWriteOverWhatTheyDidNotCreate() throws {
        try drop("not-a-picture.jpg", as: "junk.jpg")
        _ = try runPipeline()
        let ledgerBefore = try Data(contentsOf: URL(fileURLWithPath: ledger))
        let intoPublish = try consentgate(["review", "--pipeline", pipeline, "--out", folder("publish").path + "/r.html"])
        XCTAssertEqual(intoPublish.status, 2, intoPublish.output)
        XCTAssertEqual(files(folder("publish")), [])
        let overLedger = try consentgate([
            "audit", "report", "--pipeline", pipeline, "--format", "json", "--out", ledger, "--overwrite",
        ])
        XCTAssertEqual(overLedger.status, 2, overLedger.output)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: ledger)), ledgerBefore, "the ledger was replaced")
        XCTAssertEqual(try consentgate(["audit", "verify", "--pipeline", pipeline]).status, 0)
        // A link (as /dev/stdout is) is never written through or replaced.
        let target = root.appendingPathComponent("target.txt")
        try Data("keep".utf8).write(to: target)
        let link = root.appendingPathComponent("link.html")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let throughLink = try consentgate(["review", "--pipeline", pipeline, "--out", link.path, "--overwrite"])
        XCTAssertEqual(throughLink.status, 2, throughLink.output)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "keep")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), target.path)
        let device = try consentgate(["audit", "report", "--pipeline", pipeline, "--format", "json", "--out", "/dev/null"])
        XCTAssertEqual(device.status, 2, device.output)
        // An existing file only with --overwrite; standard output with -.
        let page = root.appendingPathComponent("review.html")
        try Data("old".utf8).write(to: page)
        XCTAssertEqual(try consentgate(["review", "--pipeline", pipeline, "--out", page.path]).status, 2)
        XCTAssertEqual(try String(contentsOf: page, encoding: .utf8), "old")
        XCTAssertEqual(try consentgate(["review", "--pipeline", pipeline, "--out", page.path, "--overwrite"]).status, 0)
        XCTAssertTrue(try String(contentsOf: page, encoding: .utf8).contains("<html"))
        let out = try consentgate(["audit", "report", "--pipeline", pipeline, "--format", "json", "--out", "-"])
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: out.stdout), out.text)
        // strip: never over a link.
        let stripLink = try consentgate(["strip", photo, "-o", link.path, "--overwrite"])
        XCTAssertEqual(stripLink.status, 1, stripLink.output)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "keep")
    }

    /// Publishes the demo photo, then records its revocation: the picture a broken configuration must not keep live.
    func publishThenRevoke() throws {
        let pictures = try consentedPictures(2)
        for (index, picture) in pictures.enumerated() {
            try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent("p\(index).jpg"))
        }
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 2)
        try revoke("AUTH-TEST-PICS")
        try drop("demo-phone-photo.jpg", as: "new.jpg")
    }

    func assertWithdrawnAndHeld(_ result: (status: Int32, summary: [String: Any]), _ why: String) {
        XCTAssertEqual(result.status, 2, "\(why): \(result.summary)")
        XCTAssertEqual(files(folder("publish")), [], "\(why): a picture stayed published")
        XCTAssertEqual(result.summary["retracted"] as? Int, 2, "\(why): \(result.summary)")
        XCTAssertFalse((result.summary["configuration_problems"] as? [String] ?? []).isEmpty, "\(why)")
        XCTAssertEqual(files(inbox), ["new.jpg"], "\(why): nothing new is taken")
        let reasons = summaryList(result.summary, "items").flatMap { $0["reasons"] as? [String] ?? [] }
        XCTAssertTrue(reasons.contains { $0.contains("no consent record can be verified") }, "\(why): \(reasons)")
    }

    func testAGroupWritableTrustFileStillSweeps() throws {
        try publishThenRevoke()
        chmod(root.appendingPathComponent("trust.yml").path, 0o664)
        assertWithdrawnAndHeld(try runPipeline(), "chmod g+w")
        XCTAssertEqual(
            try sql("SELECT COUNT(*) FROM events WHERE kind='retracted' AND detail LIKE '%records_unverifiable%'"), "2")
    }

    func testATrustFileWithATypoStillSweeps() throws {
        try publishThenRevoke()
        let trust = root.appendingPathComponent("trust.yml")
        try (try String(contentsOf: trust, encoding: .utf8) + "\n  - [unclosed\n").write(
            to: trust, atomically: true, encoding: .utf8)
        chmod(trust.path, 0o644)
        assertWithdrawnAndHeld(try runPipeline(), "YAML typo")
    }

    func testAKeyListedTwiceToMarkItCompromisedWithdrawsWhatItSigned() throws {
        try publishThenRevoke()
        let trust = root.appendingPathComponent("trust.yml")
        let text = try String(contentsOf: trust, encoding: .utf8)
        let entry = text.components(separatedBy: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        try (text + "\n" + entry.replacingOccurrences(of: "status: active", with: "status: compromised")).write(
            to: trust, atomically: true, encoding: .utf8)
        chmod(trust.path, 0o644)
        assertWithdrawnAndHeld(try runPipeline(), "a second entry marking the key compromised")
    }

    func testAnUnmountedAuthorizationsShareStillSweeps() throws {
        try publishThenRevoke()
        try FileManager.default.moveItem(at: records, to: root.appendingPathComponent("unmounted"))
        assertWithdrawnAndHeld(try runPipeline(), "no authorizations folder")
    }

    /// A folder someone made in publish is never deleted: with retracted on another filesystem it cannot be moved,
    /// so it stays, reported, with what it holds.
    func testTheSweepNeverDeletesAFolderItDidNotPublish() throws {
        let shm = URL(fileURLWithPath: "/dev/shm")
        guard FileManager.default.isWritableFile(atPath: shm.path) else { throw XCTSkip("no writable /dev/shm here") }
        let elsewhere = shm.appendingPathComponent("cg-retracted-" + UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: "retracted: out/retracted", with: "retracted: \(elsewhere.path)"
        ).write(toFile: pipeline, atomically: true, encoding: .utf8)
        XCTAssertEqual(try runPipeline().status, 0)
        var rootInfo = stat()
        var shmInfo = stat()
        XCTAssertEqual(stat(root.path, &rootInfo), 0)
        XCTAssertEqual(stat(shm.path, &shmInfo), 0)
        guard rootInfo.st_dev != shmInfo.st_dev else { throw XCTSkip("/dev/shm is on the test folder's filesystem") }
        let made = folder("publish").appendingPathComponent("campaign-2026")
        try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true)
        try Data("the marketing team's draft".utf8).write(to: made.appendingPathComponent("draft.txt"))
        // A link cannot cross filesystems either; it holds no data, and left there it would publish its target.
        let target = root.appendingPathComponent("elsewhere.jpg")
        try Data(try Fixtures.sample("demo-phone-photo.jpg")).write(to: target)
        try FileManager.default.createSymbolicLink(
            at: folder("publish").appendingPathComponent("shortcut.jpg"), withDestinationURL: target)
        let result = try runPipeline()
        XCTAssertEqual(files(folder("publish")), ["campaign-2026"], "the link stayed in publish")
        XCTAssertTrue(FileManager.default.fileExists(atPath: target.path), "the link's target was removed")
        XCTAssertEqual(result.status, 3, "\(result.summary)")
        XCTAssertEqual(
            try String(contentsOf: made.appendingPathComponent("draft.txt"), encoding: .utf8), "the marketing team's draft")
        let reasons = summaryList(result.summary, "items").flatMap { $0["reasons"] as? [String] ?? [] }
        XCTAssertTrue(reasons.contains { $0.contains("STILL IN PUBLISH") }, "\(reasons)")
    }

    /// Left-over temporary files are removed at the start of a run, but only regular files: a folder (or link)
    /// that merely has such a name is not ConsentGate's, and nothing inside it is touched.
    func testOnlyRegularTemporaryFilesAreCleanedUp() throws {
        XCTAssertEqual(try runPipeline().status, 0)
        let quarantine = folder("quarantine")
        let stale = quarantine.appendingPathComponent(".x.cg-stale.tmp")
        try Data("half-written".utf8).write(to: stale)
        let notOurs = quarantine.appendingPathComponent(".keep.cg-folder.tmp")
        try FileManager.default.createDirectory(at: notOurs, withIntermediateDirectories: true)
        try Data("someone's notes".utf8).write(to: notOurs.appendingPathComponent("notes.txt"))
        _ = try runPipeline()
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "a dead temporary file was kept")
        XCTAssertEqual(
            try String(contentsOf: notOurs.appendingPathComponent("notes.txt"), encoding: .utf8), "someone's notes")
    }

    /// Listing the quarantine is linear in its size: 20,000 quarantined files against 2,000 (the ratio, not seconds).
    func testQuarantineBookkeepingIsLinear() throws {
        XCTAssertEqual(try runPipeline().status, 0)
        func fill(_ count: Int) throws -> TimeInterval {
            let quarantine = folder("quarantine")
            for name in files(quarantine) { try FileManager.default.removeItem(at: quarantine.appendingPathComponent(name)) }
            let reason = Data(#"{"reasons":[{"code":"not_media","message":"x","what_to_do":"y"}],"original_name":"x.jpg","quarantined_at":"2026-01-01T00:00:00Z"}"#.utf8)
            func write(_ path: String, _ bytes: Data) {
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                bytes.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, bytes.count) }
                close(fd)
            }
            for index in 0..<count {
                let asset = String(format: "%032x", index)
                write(quarantine.path + "/" + asset + ".jpg", Data())
                write(quarantine.path + "/" + asset + ".reason.json", reason)
            }
            let started = Date()
            let listed = try consentgate(["quarantine", "list", "--pipeline", pipeline, "--json"])
            let took = Date().timeIntervalSince(started)
            let entries = (try? JSONSerialization.jsonObject(with: listed.stdout)) as? [Any]
            XCTAssertEqual(entries?.count, count, listed.stderr)
            return took
        }
        let small = try fill(2_000)
        let large = try fill(20_000)
        XCTAssertLessThan(large / small, 30, "2,000: \(small) s; 20,000: \(large) s")
    }

    /// A folder the command cannot read is an error that names it, never "0 files" or "no ledger".
    func testAFolderThatCannotBeReadIsAnErrorNotNothing() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root, to run the command as another user") }
        let setpriv = try Fixtures.requireTool("setpriv")
        try drop("not-a-picture.jpg", as: "junk.jpg")
        XCTAssertEqual(try runPipeline().summary["quarantined"] as? Int, 1)
        // Another user can read the pipeline file and the binary, not ConsentGate's private folders.
        chmod(root.path, 0o755)
        chmod(pipeline, 0o644)
        chmod(root.appendingPathComponent("out").path, 0o755)
        func asNobody(_ arguments: [String]) throws -> Fixtures.Outcome {
            try Fixtures.run(
                setpriv,
                ["--reuid=65534", "--regid=65534", "--clear-groups", "--", try Fixtures.consentgate] + arguments,
                timeout: 120)
        }
        let probe = try Fixtures.run(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/true"])
        guard probe.status == 0 else { throw XCTSkip("setpriv cannot change user here: \(probe.stderr)") }
        let access = try asNobody(["--help"])
        guard access.status == 0 else { throw XCTSkip("another user cannot run the built binary here: \(access.stderr)") }
        let list = try asNobody(["quarantine", "list", "--pipeline", pipeline])
        XCTAssertEqual(list.status, 2, list.output)
        XCTAssertTrue(list.stderr.contains("cannot open the ledger"), list.stderr)
        XCTAssertFalse(list.text.contains("0 quarantined"), list.text)
        // The ledger readable, the quarantine folder not: the folder is named.
        chmod(root.appendingPathComponent("out").path, 0o777)
        for name in files(root.appendingPathComponent("out")) where name.hasPrefix("ledger") {
            chmod(root.appendingPathComponent("out/" + name).path, 0o666)
        }
        let unlisted = try asNobody(["quarantine", "list", "--pipeline", pipeline])
        XCTAssertEqual(unlisted.status, 2, unlisted.output)
        XCTAssertTrue(unlisted.stderr.contains("cannot list the quarantine folder"), unlisted.stderr)
        let review = try asNobody(["review", "--pipeline", pipeline, "--out", "-"])
        XCTAssertEqual(review.status, 2, review.output)
        XCTAssertFalse(review.text.contains("Nothing is in quarantine"), review.text)
        // The ledger's folder may be entered but the ledger not read: never "no ledger".
        chmod(root.appendingPathComponent("out").path, 0o755)
        chmod(ledger, 0o600)
        let verify = try asNobody(["audit", "verify", "--pipeline", pipeline])
        XCTAssertEqual(verify.status, 2, verify.output)
        XCTAssertFalse(verify.output.contains("no ledger"), verify.output)
        chmod(root.appendingPathComponent("out").path, 0o700)
        let hidden = try asNobody(["audit", "verify", "--pipeline", pipeline])
        XCTAssertEqual(hidden.status, 2, hidden.output)
        XCTAssertTrue(hidden.stderr.contains("cannot reach the ledger"), hidden.stderr)
    }

    /// SPEC §2: with `settle_seconds` at most 120, `run` looks twice within the run, so a picture dropped moments
    /// before is published by the same run.
    func testAFreshDropIsPublishedBySameRun() throws {
        try writePipeline(settle: 3)
        try drop("demo-phone-photo.jpg", as: "fresh.jpg")
        let started = Date()
        let result = try runPipeline()
        XCTAssertEqual(result.summary["published"] as? Int, 1, "\(result.summary)")
        XCTAssertEqual(result.summary["unsettled"] as? Int, 0, "\(result.summary)")
        XCTAssertEqual(result.status, 0)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 3, "it was taken before it could settle")
        XCTAssertEqual(files(inbox), [])
    }
}
