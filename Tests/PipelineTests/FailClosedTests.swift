import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// The fail-closed issue, route by route, through the built binary: doubtful records block, the sweep trusts the
/// publish folder and the hash chain instead of side tables, no layout mixes the folders, recovery never replaces
/// an original, waiting and retrying are bounded, and nothing is skipped or named in the ledger.
final class FailClosedTests: PipelineTestCase {
    /// Publishes the phone photo (AUTH-DEMO-0001; the group photo, AUTH-DEMO-0006, with `other`) under a unique
    /// trailer; returns the published name.
    func publishPhonePhoto(_ tag: String, other: Bool = false) throws -> String {
        let before = Set(files(folder("publish")))
        try drop(
            other ? "demo-group-photo.jpg" : "demo-phone-photo.jpg", as: "photo-\(tag).jpg",
            trailer: Array("tag-\(tag)".utf8))
        let result = try runPipeline()
        XCTAssertEqual(result.summary["published"] as? Int, 1, "\(result.summary)")
        return try XCTUnwrap(Set(files(folder("publish"))).subtracting(before).first)
    }

    func invalidFiles(_ summary: [String: Any]) -> [String] {
        summaryList(summary, "invalid_records").compactMap { $0["file"] as? String }
    }

    // MARK: doubt blocks

    func testARevocationThatIsNotAValidRecordStillBlocksWhatItNames() throws {
        let revocation = """
            {"type": "consentgate.revocation/v1", "id": "REV-1", "authorization": "AUTH-DEMO-0001",
             "received_at": "2026-05-01T00:00:00Z", "recorded_by": "po-demo"}
            """
        // Each way a revocation can be broken or hidden; each must still take the picture offline.
        let variants: [(String, () throws -> Void)] = [
            ("a date instead of an RFC 3339 time", {
                try self.signWithMinisign(
                    revocation.replacingOccurrences(of: "2026-05-01T00:00:00Z", with: "2026-05-01"), as: "REV-1.json")
            }),
            ("an unknown field", {
                try self.signWithMinisign(
                    revocation.replacingOccurrences(of: "\"recorded_by\"", with: "\"note\": \"x\", \"recorded_by\""),
                    as: "REV-1.json")
            }),
            ("received decades ahead", {
                try self.signWithMinisign(
                    revocation.replacingOccurrences(of: "2026-05-01T00:00:00Z", with: "2062-05-01T00:00:00Z"),
                    as: "REV-1.json")
            }),
            ("a file name that is not its id", { try self.signWithMinisign(revocation, as: "REV-2.json") }),
            ("broken JSON", { try self.signWithMinisign(String(revocation.dropLast(30)), as: "REV-1.json") }),
            ("no signature file", {
                try Data(revocation.utf8).write(to: self.records.appendingPathComponent("REV-1.json"))
            }),
            ("edited after signing", {
                let name = try self.revoke("AUTH-DEMO-0001")
                let url = self.records.appendingPathComponent(name)
                var text = try String(contentsOf: url, encoding: .utf8)
                text = text.replacingOccurrences(of: "AUTH-DEMO-0001", with: "AUTH-DEMO-0001 ")
                try text.write(to: url, atomically: true, encoding: .utf8)
            }),
            ("hidden by a leading dot", {
                let name = try self.revoke("AUTH-DEMO-0001")
                for suffix in ["", ".minisig"] {
                    try FileManager.default.moveItem(
                        at: self.records.appendingPathComponent(name + suffix),
                        to: self.records.appendingPathComponent("." + name + suffix))
                }
            }),
            ("renamed to .txt", {
                let name = try self.revoke("AUTH-DEMO-0001")
                try FileManager.default.moveItem(
                    at: self.records.appendingPathComponent(name),
                    to: self.records.appendingPathComponent("revocation.txt"))
            }),
            ("moved into a subfolder", {
                let name = try self.revoke("AUTH-DEMO-0001")
                let old = self.records.appendingPathComponent("old")
                try FileManager.default.createDirectory(at: old, withIntermediateDirectories: true)
                for suffix in ["", ".minisig"] {
                    try FileManager.default.moveItem(
                        at: self.records.appendingPathComponent(name + suffix),
                        to: old.appendingPathComponent(name + suffix))
                }
            }),
        ]
        let pristine = Set(files(records))
        for (index, (label, make)) in variants.enumerated() {
            let published = try publishPhonePhoto("\(index)")
            try make()
            let result = try runPipeline()
            XCTAssertEqual(result.status, 1, "\(label): \(result.summary)")
            XCTAssertEqual(files(folder("publish")), [], "\(label): the picture stays published")
            let invalid = summaryList(result.summary, "invalid_records")
            XCTAssertFalse(invalid.isEmpty, "\(label): the invalid record is not in the summary")
            XCTAssertTrue(
                invalid.contains { ($0["blocks"] as? [String] ?? []).contains("AUTH-DEMO-0001") },
                "\(label): \(invalid)")
            XCTAssertTrue(files(folder("retracted")).contains(published), label)
            // `check` agrees: the picture would be quarantined, and the reason names the file.
            let check = try Fixtures.run(
                try Fixtures.consentgate,
                ["check", Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path, "--pipeline", pipeline])
            XCTAssertEqual(check.status, 1, "\(label): \(check.text)")
            // Back to the demo records for the next variant.
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: records.path)) ?? [])
            where !pristine.contains(name) {
                try FileManager.default.removeItem(at: records.appendingPathComponent(name))
            }
        }
    }

    func testAFileThatNamesNoAuthorizationStopsNewPublishingUntilFixed() throws {
        try "call the patient back".write(
            to: records.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let held = try runPipeline()
        XCTAssertEqual(held.status, 3, "\(held.summary)")
        XCTAssertEqual(held.summary["left"] as? Int, 1)
        XCTAssertEqual(held.summary["published"] as? Int, 0)
        XCTAssertFalse((held.summary["publishing_stopped"] as? [String] ?? []).isEmpty, "\(held.summary)")
        XCTAssertEqual(invalidFiles(held.summary), ["notes.txt"])
        XCTAssertEqual(files(inbox), ["a.jpg"], "the new file stays in the inbox")
        let text = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertTrue(text.text.contains("notes.txt"), text.text)
        try FileManager.default.removeItem(at: records.appendingPathComponent("notes.txt"))
        let fixed = try runPipeline()
        XCTAssertEqual(fixed.status, 0, "\(fixed.summary)")
        XCTAssertEqual(fixed.summary["published"] as? Int, 1)
    }

    // MARK: the sweep

    func testAStrangerInPublishIsWithdrawnAndItsNameStaysOutOfTheLedger() throws {
        _ = try publishPhonePhoto("a")
        let stranger = folder("publish").appendingPathComponent("Jane Doe MRN 12345.jpg")
        try Data(try Fixtures.sample("demo-camera-photo.jpg")).write(to: stranger)
        try Data("x".utf8).write(to: folder("publish").appendingPathComponent(".hidden"))
        let result = try runPipeline()
        XCTAssertEqual(result.status, 1, "\(result.summary)")
        XCTAssertEqual(result.summary["retracted"] as? Int, 2, "\(result.summary)")
        XCTAssertEqual(files(folder("publish")).count, 1, "only the real publication stays")
        let withdrawn = files(folder("retracted"))
        XCTAssertEqual(withdrawn.filter { $0.hasPrefix("stranger-") && !$0.hasSuffix(".reason.json") }.count, 2)
        let reasons = try withdrawn.filter { $0.hasSuffix(".reason.json") }.map {
            try String(contentsOf: folder("retracted").appendingPathComponent($0), encoding: .utf8)
        }.joined()
        XCTAssertTrue(reasons.contains("Jane Doe MRN 12345.jpg"), "the reason file keeps the old name")
        let ledgerBytes =
            try Data(contentsOf: URL(fileURLWithPath: ledger)) + ((try? Data(contentsOf: URL(fileURLWithPath: ledger + "-wal"))) ?? Data())
        XCTAssertNil(ledgerBytes.range(of: Data("Jane".utf8)), "an original name reached the ledger")
    }

    func testDeletedLedgerEventsOrADeletedLedgerRetractEverything() throws {
        let first = try publishPhonePhoto("a")
        _ = try sql("DELETE FROM events WHERE kind='published'")
        let audit = try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline])
        XCTAssertEqual(audit.status, 1, "audit verify must notice the deleted publication")
        let result = try runPipeline()
        XCTAssertEqual(result.status, 1, "\(result.summary)")
        XCTAssertFalse(files(folder("publish")).contains(first))
        XCTAssertFalse(summaryList(result.summary, "items").isEmpty)
        XCTAssertFalse((result.summary["ledger_problems"] as? [String] ?? []).isEmpty, "\(result.summary)")

        // A ledger removed altogether: `audit verify` fails, and a full publish folder beside a new ledger is swept.
        let second = try publishPhonePhoto("b")
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: ledger + suffix) }
        let missing = try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no ledger at"), missing.stderr)
        let swept = try runPipeline()
        XCTAssertEqual(swept.status, 1, "\(swept.summary)")
        XCTAssertFalse(files(folder("publish")).contains(second))
    }

    func testAChangedOrMissingPublishedFileIsCaughtAndARenameChangesNothing() throws {
        let a = try publishPhonePhoto("a")
        let b = try publishPhonePhoto("b", other: true)
        // Renaming the pipeline keeps everything published.
        try writePipeline(settle: 0)
        try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: "name: test-website", with: "name: renamed-website"
        ).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let renamed = try runPipeline()
        XCTAssertEqual(renamed.status, 0, "\(renamed.summary)")
        XCTAssertEqual(Set(files(folder("publish"))), [a, b])
        // A published file edited in place is no longer what was published.
        let handle = try FileHandle(forWritingTo: folder("publish").appendingPathComponent(a))
        handle.seekToEndOfFile()
        handle.write(Data("GPS 41.9N".utf8))
        handle.closeFile()
        // And one deleted by hand is recorded as gone.
        try writePipeline(settle: 0)
        try FileManager.default.removeItem(at: folder("publish").appendingPathComponent(b))
        let result = try runPipeline()
        XCTAssertEqual(result.status, 1, "\(result.summary)")
        XCTAssertEqual(result.summary["retracted"] as? Int, 2, "\(result.summary)")
        XCTAssertEqual(files(folder("publish")), [])
        let codes = try sql("SELECT group_concat(detail, ' ') FROM events WHERE kind='retracted'")
        XCTAssertTrue(codes.contains("changed_in_publish") && codes.contains("missing_from_publish"), codes)
    }

    func testTheSweepRunsBeforeNewFilesAreTaken() throws {
        _ = try publishPhonePhoto("a")
        try revoke("AUTH-DEMO-0001")
        _ = try dropMany(6, from: 10)
        let before = Int(try sql("SELECT MAX(seq) FROM events")) ?? 0
        XCTAssertEqual(try runPipeline().status, 1)
        let retracted = Int(try sql("SELECT MIN(seq) FROM events WHERE kind='retracted' AND seq > \(before)")) ?? 0
        let claimed = Int(try sql("SELECT MIN(seq) FROM events WHERE kind='claimed' AND seq > \(before)")) ?? 0
        XCTAssertGreaterThan(retracted, 0)
        XCTAssertGreaterThan(claimed, 0)
        XCTAssertLessThan(retracted, claimed, "the retraction came after new files were claimed")
    }

    // MARK: layout, lock, recovery

    func testOverlappingFoldersAreAConfigurationError() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let linked = root.appendingPathComponent("linked-publish")
        try FileManager.default.createDirectory(at: folder("archive"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: linked.path, withDestinationPath: folder("archive").path)
        let layouts: [(String, String, [String])] = [
            ("{inbox: inbox, publish: out/publish, quarantine: out/q, archive: out/publish/archive, retracted: out/r}",
             "", ["folders.archive", "folders.publish"]),
            ("{inbox: inbox, publish: out/publish, quarantine: out/publish, archive: out/a, retracted: out/r}",
             "", ["folders.publish", "folders.quarantine"]),
            ("{inbox: inbox, publish: out/q/publish, quarantine: out/q, archive: out/a, retracted: out/r}",
             "", ["folders.publish", "folders.quarantine"]),
            ("{inbox: inbox, publish: linked-publish, quarantine: out/q, archive: out/archive, retracted: out/r}",
             "", ["folders.publish", "folders.archive"]),
            ("{inbox: inbox, publish: out/publish, quarantine: out/q, archive: out/a, retracted: out/r}",
             "work: inbox/.work", ["folders.inbox", "work"]),
            ("{inbox: authorizations, publish: out/publish, quarantine: out/q, archive: out/a, retracted: out/r}",
             "", ["folders.inbox", "authorizations"]),
        ]
        for (folders, extra, keys) in layouts {
            let yaml = """
                name: t
                channel: website
                folders: \(folders)
                authorizations: authorizations
                trust: trust.yml
                ledger: out/ledger.sqlite
                settle_seconds: 0
                \(extra)
                """
            try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
            let outcome = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
            XCTAssertEqual(outcome.status, 2, "\(folders) \(extra): \(outcome.stderr)")
            for key in keys { XCTAssertTrue(outcome.stderr.contains(key), "\(key) not named: \(outcome.stderr)") }
        }
        // The ledger inside publish, too.
        try writePipeline(settle: 0)
        try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: "ledger: out/ledger.sqlite", with: "ledger: out/publish/ledger.sqlite"
        ).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let ledgerInside = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertEqual(ledgerInside.status, 2, ledgerInside.stderr)
        XCTAssertEqual(files(inbox), ["a.jpg"], "nothing moved")
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testAHeldLockEndsTheRunWithExitThreeAndSaysSinceWhen() throws {
        try writePipeline(settle: 0, extra: "lock_wait_seconds: 1")
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().status, 0)
        // Another run holds the lock (as a stalled run would).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script =
            "import fcntl,sys,time; f=open(sys.argv[1],'r+'); fcntl.flock(f,fcntl.LOCK_EX); f.seek(0); f.truncate(); "
            + "f.write('since 2026-01-01T00:00:00Z (process 1)'); f.flush(); print('held', flush=True); time.sleep(20)"
        holder.arguments = ["python3", "-c", script, work.appendingPathComponent(".lock").path]
        let pipe = Pipe()
        holder.standardOutput = pipe
        try holder.run()
        defer { holder.terminate() }
        _ = pipe.fileHandleForReading.availableData
        let started = Date()
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline], timeout: 30)
        XCTAssertEqual(outcome.status, 3, outcome.stderr)
        XCTAssertTrue(outcome.stderr.contains("since 2026-01-01T00:00:00Z"), outcome.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 15)
    }

    func testRecoveryNeverReplacesAnOriginalAndTheWorkFolderIsOutsideTheInbox() throws {
        let published = try publishPhonePhoto("a")
        let asset = String(published.prefix(32))
        XCTAssertFalse(FileManager.default.fileExists(atPath: inbox.appendingPathComponent(".consentgate-work").path))
        let archived = folder("archive").appendingPathComponent(asset + ".jpg")
        let original = try Data(contentsOf: archived)
        // A different file placed in the work folder under that asset's id.
        try Data(try Fixtures.sample("demo-camera-photo.jpg")).write(to: work.appendingPathComponent(asset))
        let result = try runPipeline()
        XCTAssertEqual(try Data(contentsOf: archived), original, "the archived original was replaced")
        XCTAssertEqual(result.summary["quarantined"] as? Int, 1, "\(result.summary)")
        XCTAssertEqual(files(work), [])
        XCTAssertEqual(files(folder("publish")), [published])
    }

    // MARK: settling, retries, claims, privacy

    func testAFileIsTakenOnlyAfterTwoLooksSettleSecondsApart() throws {
        try writePipeline(settle: 1)
        try drop("demo-phone-photo.jpg", as: "copied-with-old-mtime.jpg")
        // Copied by a tool that keeps the source's mtime: old at once, but still seen for the first time.
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-86_400)],
            ofItemAtPath: inbox.appendingPathComponent("copied-with-old-mtime.jpg").path)
        let started = Date()
        let result = try runPipeline()
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1, "taken at the first look")
        XCTAssertEqual(result.summary["published"] as? Int, 1, "\(result.summary)")
        // With a long settle time the cron run does not wait: the file waits for a later run.
        try writePipeline(settle: 3600)
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-86_400)], ofItemAtPath: inbox.appendingPathComponent("b.jpg").path)
        let later = try runPipeline()
        XCTAssertEqual(later.summary["unsettled"] as? Int, 1, "\(later.summary)")
        XCTAssertEqual(files(inbox), ["b.jpg"])
    }

    func testTheSameIOErrorThreeRunsInARowQuarantines() throws {
        let mountPoint = folder("publish")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mounted = try Fixtures.run("/bin/mount", ["-t", "tmpfs", "-o", "size=4k,mode=755", "tmpfs", mountPoint.path])
        guard mounted.status == 0 else { throw XCTSkip("cannot mount a small tmpfs here (needs root): \(mounted.stderr)") }
        defer { _ = try? Fixtures.run("/bin/umount", ["-l", mountPoint.path]) }
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().status, 3)
        XCTAssertEqual(try runPipeline().status, 3)
        let third = try runPipeline()
        XCTAssertEqual(third.status, 1, "\(third.summary)")
        XCTAssertEqual(third.summary["quarantined"] as? Int, 1)
        let reasons = try files(folder("quarantine")).filter { $0.hasSuffix(".reason.json") }.map {
            try String(contentsOf: folder("quarantine").appendingPathComponent($0), encoding: .utf8)
        }.joined()
        XCTAssertTrue(reasons.contains("io_error"), reasons)
    }

    func testAFileThatCannotBeClaimedIsCountedOnEveryRun() throws {
        let mountPoint = inbox.appendingPathComponent("other-disk")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mounted = try Fixtures.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m,mode=755", "tmpfs", mountPoint.path])
        guard mounted.status == 0 else { throw XCTSkip("cannot mount a tmpfs here (needs root): \(mounted.stderr)") }
        defer { _ = try? Fixtures.run("/bin/umount", ["-l", mountPoint.path]) }
        try Data(try Fixtures.sample("demo-phone-photo.jpg")).write(to: mountPoint.appendingPathComponent("a.jpg"))
        for _ in 0..<2 {
            let result = try runPipeline()
            XCTAssertEqual(result.status, 3, "\(result.summary)")
            XCTAssertEqual(result.summary["left"] as? Int, 1, "\(result.summary)")
        }
        XCTAssertEqual(files(mountPoint), ["a.jpg"])
    }

    func testTheLedgerAndReportsArePrivateAndNameNoFile() throws {
        try FileManager.default.createDirectory(
            at: inbox.appendingPathComponent("Jane Doe MRN 12345"), withIntermediateDirectories: true)
        try drop("demo-phone-photo.jpg", as: "Jane Doe MRN 12345/knee before surgery.jpg")
        try drop("demo-camera-photo.jpg", as: "Jane Doe MRN 12345/knee after.jpg")
        try FileManager.default.createSymbolicLink(
            atPath: inbox.appendingPathComponent("Jane Doe MRN 12345/link.jpg").path, withDestinationPath: "/etc/hosts")
        XCTAssertEqual(try runPipeline().status, 1)
        let report = root.appendingPathComponent("audit.json").path
        XCTAssertEqual(
            try Fixtures.run(
                try Fixtures.consentgate, ["audit", "report", "--pipeline", pipeline, "--format", "json", "--out", report]
            ).status, 0)
        for path in [ledger, ledger + "-wal", report] where FileManager.default.fileExists(atPath: path) {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
            XCTAssertEqual(mode, 0o600, path)
            XCTAssertNil(try Data(contentsOf: URL(fileURLWithPath: path)).range(of: Data("Jane".utf8)), path)
        }
    }
}
