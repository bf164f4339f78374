import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// The pipeline end to end on temporary folders, through the built binary: outcomes, hostile input,
/// kill -9 at random moments, two instances at once, and the ledger's audit.
final class PipelineTests: PipelineTestCase {
    func testOutcomesReasonsAndASecondRunThatChangesNothing() throws {
        var inputs: [String: Int] = [:]
        for name in [
            "demo-phone-photo.jpg", "demo-group-photo.jpg", "demo-camera-photo.jpg", "demo-portrait.jpg",
            "demo-ycck-print.jpg", "demo-screenshot.png", "not-a-picture.jpg", "demo-clip.mp4",
        ] {
            try drop(name, as: "Jane Demo-Doe " + name)
            inputs[MediaFormatsSHA.hex(try Fixtures.sample(name)), default: 0] += 1
        }
        let first = try runPipeline()
        XCTAssertEqual(first.status, 1, "\(first.summary)")
        XCTAssertEqual(first.summary["published"] as? Int, 3, "two photos and the clip (AUTH-DEMO-0007)")
        XCTAssertEqual(first.summary["quarantined"] as? Int, 5)
        XCTAssertEqual(files(folder("publish")).filter { $0.hasSuffix(".mp4") }.count, 1)
        try assertInvariants(inputs: inputs)
        for name in files(folder("publish")) {
            XCTAssertNotNil(
                name.range(of: #"^[0-9a-f]{32}\.(jpg|mp4)$"#, options: .regularExpression),
                "not an opaque name: \(name)")
            let text = String(
                decoding: try Data(contentsOf: folder("publish").appendingPathComponent(name)), as: UTF8.self)
            XCTAssertFalse(
                text.contains("Demo-Doe") || text.contains("DEMO-SN") || text.contains("DemoCam"),
                "metadata left in \(name)")
        }
        let reasons = try files(folder("quarantine")).filter { $0.hasSuffix(".reason.json") }.map { name -> String in
            try String(contentsOf: folder("quarantine").appendingPathComponent(name), encoding: .utf8)
        }.joined()
        for code in [
            "expired", "revoked", "not_everyone_consented", "channel_not_permitted", "no_record", "what_to_do",
        ] {
            XCTAssertTrue(reasons.contains(code), "no reason \(code)")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: folder("quarantine").path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o700)
        // A second run over the same folders changes nothing.
        let before = ["publish", "quarantine", "archive", "retracted"].map { files(folder($0)) }
        let events = try sql("SELECT COUNT(*) FROM events")
        let second = try runPipeline()
        XCTAssertEqual(second.status, 0)
        XCTAssertEqual(["publish", "quarantine", "archive", "retracted"].map { files(folder($0)) }, before)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events"), events)
    }

    func testAuditVerifyCatchesAnEditedDeletedOrReorderedRow() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        XCTAssertEqual(try runPipeline().status, 1)
        func audit() throws -> Int32 {
            try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline]).status
        }
        XCTAssertEqual(try audit(), 0)
        _ = try sql("UPDATE events SET detail = replace(detail, 'expired', 'approved') WHERE kind='quarantined'")
        XCTAssertEqual(try audit(), 1, "an edited row")
        _ = try sql("UPDATE events SET detail = replace(detail, 'approved', 'expired') WHERE kind='quarantined'")
        XCTAssertEqual(try audit(), 0)
        _ = try sql("DELETE FROM events WHERE seq = 2")
        XCTAssertEqual(try audit(), 1, "a deleted row")
        let report = root.appendingPathComponent("audit.html").path
        let html = try Fixtures.run(
            try Fixtures.consentgate, ["audit", "report", "--pipeline", pipeline, "--format", "html", "--out", report])
        XCTAssertEqual(html.status, 1, "the report says the chain is broken")
        XCTAssertTrue(try String(contentsOfFile: report, encoding: .utf8).contains("BROKEN"))
    }

    func testHostileEntriesAreNeverFollowedOrRead() throws {
        let outside = root.appendingPathComponent("outside.jpg")
        try Data(try Fixtures.sample("demo-phone-photo.jpg")).write(to: outside)
        try FileManager.default.createSymbolicLink(
            atPath: inbox.appendingPathComponent("link.jpg").path, withDestinationPath: outside.path)
        XCTAssertEqual(link(outside.path, inbox.appendingPathComponent("hardlink.jpg").path), 0)
        XCTAssertEqual(mkfifo(inbox.appendingPathComponent("pipe.jpg").path, 0o644), 0)
        _ = FileManager.default.createFile(atPath: inbox.appendingPathComponent("empty.jpg").path, contents: Data())
        for skipped in [".hidden.jpg", "upload.jpg.part", "~$lock.jpg", "Thumbs.db"] {
            try drop("demo-phone-photo.jpg", as: skipped)
        }
        // A consented picture under a name with a newline and bytes that are not UTF-8.
        var odd = Array(inbox.path.utf8) + Array("/odd\nname-".utf8) + [0xFF, 0xFE] + Array(".jpg".utf8)
        odd.append(0)
        let handle = odd.withUnsafeBufferPointer {
            open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT, 0o644)
        }
        XCTAssertGreaterThanOrEqual(handle, 0)
        let picture = try Fixtures.sample("demo-phone-photo.jpg")
        _ = picture.withUnsafeBytes { write(handle, $0.baseAddress!, picture.count) }
        close(handle)

        let dry = try runPipeline(["--dry-run"])
        XCTAssertEqual(dry.summary["published"] as? Int, 1, "a dry run reads the oddly named file too: \(dry.summary)")
        let result = try runPipeline()
        XCTAssertEqual(result.status, 1, "\(result.summary)")
        XCTAssertEqual(result.summary["published"] as? Int, 1, "only the oddly named regular file: \(result.summary)")
        XCTAssertEqual(result.summary["quarantined"] as? Int, 4, "link, hard link, FIFO, empty: \(result.summary)")
        XCTAssertEqual(files(folder("quarantine")).filter { $0.hasSuffix(".unread") }.count, 3)
        XCTAssertEqual(
            Set(files(inbox)),
            [".hidden.jpg", "upload.jpg.part", "~$lock.jpg", "Thumbs.db"].reduce(into: Set<String>()) {
                if !$1.hasPrefix(".") { $0.insert($1) }
            })
        XCTAssertTrue(FileManager.default.fileExists(atPath: inbox.appendingPathComponent(".hidden.jpg").path))
        XCTAssertEqual(
            try Data(contentsOf: outside), Data(try Fixtures.sample("demo-phone-photo.jpg")),
            "the link target is untouched")
    }

    func testAFileStillBeingWrittenWaits() throws {
        try writePipeline(settle: 3600)
        try drop("demo-phone-photo.jpg", as: "fresh.jpg")
        let result = try runPipeline()
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.summary["unsettled"] as? Int, 1)
        XCTAssertEqual(files(inbox), ["fresh.jpg"])
    }

    func testConfigurationErrorsExitTwoAndTouchNothing() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try writePipeline(settle: 0, extra: "colour: blue")
        let unknown = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("unknown key colour"), unknown.stderr)
        // A publish folder that cannot be used: nothing moves.
        try writePipeline(settle: 0)
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("out"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder("publish").path, contents: Data("not a folder".utf8))
        XCTAssertEqual(try Fixtures.run(try Fixtures.consentgate, ["run", pipeline]).status, 2)
        XCTAssertEqual(files(inbox), ["a.jpg"])
    }

    func testKillNineAtRandomMomentsThenCompleteLosesNothing() throws {
        // Full decodes make each run long enough to be killed in the middle of its work.
        try writePipeline(settle: 0, extra: "verify_decode: true")
        var inputs = try dropMany(120, from: 0)
        var next = 120
        var generator = SystemRandomNumberGenerator()
        var killed = 0
        var attempts = 0
        while killed < 24 && attempts < 300 {
            attempts += 1
            // Whenever a run got through everything, drop another batch so the kills keep landing mid-work.
            if files(inbox).isEmpty && files(work).isEmpty {
                inputs.merge(try dropMany(40, from: next)) { $0 + $1 }
                next += 40
            }
            let process = try start(["run", pipeline])
            usleep(UInt32.random(in: 2_000...150_000, using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            process.waitUntilExit()
        }
        XCTAssertGreaterThanOrEqual(killed, 20, "could not kill a running pass 20 times")
        let final = try runPipeline()
        XCTAssertTrue([0, 1].contains(final.status), "\(final.summary)")
        try assertInvariants(inputs: inputs)
        XCTAssertEqual(files(folder("archive")).count, next / 2, "every consented picture published once")
        XCTAssertEqual(files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }.count, next / 2)
    }

    func testAKillBetweenAnyTwoStepsOfAGroupCommitLosesNothing() throws {
        // Debug builds kill themselves at a named step of the first batch of two or more files, claims or deliveries
        // (CONSENTGATE_TEST_KILL_AT, Sources/Pipeline/DeliveryTestHooks.swift); the next run must finish everything.
        let pictures = try consentedPictures(6)
        for step in ["claims-moved", "synced", "renamed-one", "published", "recorded", "moved-one"] {
            try? FileManager.default.removeItem(at: root.appendingPathComponent("out"))
            try? FileManager.default.removeItem(at: root.appendingPathComponent(".consentgate-work"))
            var inputs: [String: Int] = [:]
            for (index, picture) in pictures.enumerated() {
                let target = inbox.appendingPathComponent("picture-\(index).jpg")
                try FileManager.default.copyItem(at: picture, to: target)
                inputs[try sha(target), default: 0] += 1
            }
            // Two consented copies of one picture (one is a duplicate) and two pictures without consent.
            inputs.merge(try dropMany(4, from: 100)) { $0 + $1 }

            let process = Process()
            process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
            process.arguments = ["run", pipeline]
            process.environment = ProcessInfo.processInfo.environment.merging(["CONSENTGATE_TEST_KILL_AT": step]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal, "\(step): the run was not killed at its step")
            XCTAssertEqual(process.terminationStatus, SIGKILL, step)

            // Where the kill landed: before the ledger transaction no outcome is recorded, after it every original
            // of the batch is still in the work folder, after the first move exactly one is out.
            let outcomes = Int(try sql("SELECT COUNT(*) FROM events WHERE kind IN ('published','duplicate','quarantined')")) ?? -1
            let delivered =
                files(folder("archive")).count + files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }.count
            switch step {
            case "recorded":
                XCTAssertGreaterThanOrEqual(outcomes, 2, step)
                XCTAssertEqual(delivered, 0, step)
            case "moved-one":
                XCTAssertGreaterThanOrEqual(outcomes, 2, step)
                XCTAssertEqual(delivered, 1, step)
            default:
                XCTAssertEqual(outcomes, 0, step)
                XCTAssertEqual(delivered, 0, step)
            }
            if step == "claims-moved" {
                XCTAssertGreaterThanOrEqual(files(work).count, 2, "\(step): files renamed into the work folder")
                XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='claimed'"), "0", step)
            }
            if step == "renamed-one" {
                XCTAssertEqual(files(folder("publish")).count, 1, "\(step): one copy renamed, the batch's others not")
            }

            let final = try runPipeline()
            XCTAssertEqual(final.status, 1, "\(step): two pictures have no consent: \(final.summary)")
            try assertInvariants(inputs: inputs)
            XCTAssertEqual(files(folder("publish")).count, 7, "\(step): six pictures and one of the two copies")
            XCTAssertEqual(files(folder("archive")).count, 8, step)
            XCTAssertEqual(files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }.count, 2, step)
        }
    }

    func testWatchPublishesDropsAndStopsOnSIGTERM() throws {
        try writePipeline(settle: 0, extra: "rescan_seconds: 60")
        let process = try start(["watch", pipeline])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        usleep(500_000)
        // A drop long after the first pass is seen through inotify, well before the 60-second rescan.
        try drop("demo-phone-photo.jpg", as: "dropped-later.jpg")
        let deadline = Date().addingTimeInterval(20)
        while files(folder("publish")).isEmpty && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(files(folder("publish")).count, 1, "watch did not publish the dropped file")
        kill(process.processIdentifier, SIGTERM)
        let stopBy = Date().addingTimeInterval(20)
        while process.isRunning && Date() < stopBy { usleep(50_000) }
        XCTAssertFalse(process.isRunning, "watch did not stop on SIGTERM")
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        try assertInvariants(inputs: [MediaFormatsSHA.hex(try Fixtures.sample("demo-phone-photo.jpg")): 1])
    }

    func testCheckWithAPipelineChangesNothing() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let path = inbox.appendingPathComponent("a.jpg").path
        let publishable = try Fixtures.run(try Fixtures.consentgate, ["check", path, "--pipeline", pipeline])
        XCTAssertEqual(publishable.status, 0, publishable.text + publishable.stderr)
        XCTAssertTrue(publishable.text.contains("PUBLISHABLE on website"))
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        let expired = try Fixtures.run(
            try Fixtures.consentgate, ["check", inbox.appendingPathComponent("b.jpg").path, "--pipeline", pipeline])
        XCTAssertEqual(expired.status, 1)
        XCTAssertTrue(expired.text.contains("expired on 2026-06-01"), expired.text)
        XCTAssertEqual(files(inbox), ["a.jpg", "b.jpg"], "check moves nothing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ledger), "check writes no ledger")
    }

    func testDryRunDecidesAndChangesNothing() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        let dry = try runPipeline(["--dry-run"])
        XCTAssertEqual(dry.status, 1)
        XCTAssertEqual(dry.summary["published"] as? Int, 1)
        XCTAssertEqual(dry.summary["quarantined"] as? Int, 1)
        XCTAssertEqual(files(inbox), ["a.jpg", "b.jpg"])
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: root.appendingPathComponent("out").path), "a dry run created folders"
        )
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.path))
        // With a ledger from an earlier real run (closed cleanly), a dry run's sweep reads it and adds no file.
        _ = try runPipeline()
        try drop("demo-phone-photo.jpg", as: "c.jpg")
        let before = try FileManager.default.contentsOfDirectory(atPath: folder("").path).sorted()
        XCTAssertFalse(before.contains { $0.hasSuffix("-wal") || $0.hasSuffix("-shm") }, "\(before)")
        let ledgerBytes = try Data(contentsOf: URL(fileURLWithPath: ledger))
        let again = try runPipeline(["--dry-run"])
        XCTAssertEqual(again.summary["published"] as? Int, 1, "\(again.summary)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder("").path).sorted(), before)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: ledger)), ledgerBytes)
    }

    func testExamplePipelinesParse() throws {
        for name in ["website.example.yml", "instagram.example.yml", "demo.yml"] {
            let path = Fixtures.packageRoot.appendingPathComponent("Pipelines").appendingPathComponent(name).path
            let outcome = try Fixtures.run(try Fixtures.consentgate, ["run", "--dry-run", path])
            // They parse; the production ones stop only at their inbox, which does not exist here.
            XCTAssertFalse(outcome.stderr.contains("unknown key") || outcome.stderr.contains("YAML"), outcome.stderr)
            if name != "demo.yml" { XCTAssertTrue(outcome.stderr.contains("does not exist"), outcome.stderr) }
        }
    }

    func testEveryCorpusFileReachesOneOutcome() throws {
        let corpus = try Fixtures.requireCorpus()
        var inputs: [String: Int] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: corpus.path) where name != "SOURCES.tsv" {
            let bytes = try Fixtures.bytes(corpus.appendingPathComponent(name))
            try Data(bytes).write(to: inbox.appendingPathComponent(name))
            inputs[MediaFormatsSHA.hex(bytes), default: 0] += 1
        }
        let result = try runPipeline()
        // No record covers them: every one is quarantined with a reason, none crashes the run or is left.
        XCTAssertEqual(result.status, 1, "\(result.summary)")
        XCTAssertEqual(result.summary["left"] as? Int, 0)
        XCTAssertEqual(result.summary["quarantined"] as? Int, inputs.values.reduce(0, +))
        try assertInvariants(inputs: inputs)
    }

    func testAFullPublishDiskLeavesNothingPartialAndTheNextRunFinishes() throws {
        let mountPoint = folder("publish")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mounted = try Fixtures.run("/bin/mount", ["-t", "tmpfs", "-o", "size=200k,mode=755", "tmpfs", mountPoint.path])
        guard mounted.status == 0 else {
            throw XCTSkip("cannot mount a small tmpfs here (needs root): \(mounted.stderr)")
        }
        defer { _ = try? Fixtures.run("/bin/umount", ["-l", mountPoint.path]) }
        var inputs: [String: Int] = [:]
        for picture in try consentedPictures(20) {
            let bytes = try Fixtures.bytes(picture)
            try Data(bytes).write(to: inbox.appendingPathComponent(picture.lastPathComponent))
            inputs[MediaFormatsSHA.hex(bytes), default: 0] += 1
        }
        let full = try runPipeline()
        XCTAssertEqual(full.status, 3, "a file that could not be delivered is exit 3: \(full.summary)")
        let published = files(mountPoint)
        XCTAssertGreaterThan(published.count, 0)
        XCTAssertLessThan(published.count, 20)
        let hidden = try FileManager.default.contentsOfDirectory(atPath: mountPoint.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(hidden, [], "temporary files left on the full disk")
        // Every published file is whole: it reads as a complete picture with nothing left to remove.
        for name in published {
            let outcome = try Fixtures.run(
                try Fixtures.consentgate, ["inspect", "--json", mountPoint.appendingPathComponent(name).path])
            XCTAssertEqual(outcome.status, 0, "\(name) is not whole: \(outcome.stderr)")
        }
        // Room again: the next run finishes what was claimed.
        XCTAssertEqual(try Fixtures.run("/bin/mount", ["-o", "remount,size=20m", mountPoint.path]).status, 0)
        let next = try runPipeline()
        XCTAssertEqual(next.status, 0, "\(next.summary)")
        try assertInvariants(inputs: inputs)
        XCTAssertEqual(files(mountPoint).count, 20)
    }

    func testARecordedQuarantineIsFinishedAsRecordedAfterAKill() throws {
        // The state a kill leaves between the ledger's "quarantined" event and the move: the original still in
        // the work folder. Meanwhile the picture became consented; the recorded outcome must still win.
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        XCTAssertEqual(try runPipeline().status, 1)
        let quarantined = files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        XCTAssertEqual(quarantined.count, 1)
        let original = try XCTUnwrap(quarantined.first)
        let asset = String(original.prefix(32))
        try FileManager.default.moveItem(
            at: folder("quarantine").appendingPathComponent(original), to: work.appendingPathComponent(asset))
        let reasonBefore = try Data(contentsOf: folder("quarantine").appendingPathComponent(asset + ".reason.json"))
        // Consent now covers the picture: a valid authorization, signed with (a private copy of) the DEMO key.
        let key = URL(fileURLWithPath: try demoKey())
        let camera = Fixtures.sampleMedia.appendingPathComponent("demo-camera-photo.jpg").path
        let authorize = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", key.path, "--id", "AUTH-LATE-1", "--subject", "P-LATE-1", "--channels", "website",
                "--effective", "2026-01-01", "--expires", "2036-01-01", "--out",
                root.appendingPathComponent("authorizations").path,
                camera,
            ])
        XCTAssertEqual(authorize.status, 0, authorize.stderr)
        XCTAssertEqual(
            try Fixtures.run(try Fixtures.consentgate, ["check", camera, "--pipeline", pipeline]).status, 0,
            "the picture is consented now")
        let recovered = try runPipeline()
        XCTAssertEqual(recovered.summary["published"] as? Int, 0, "\(recovered.summary)")
        XCTAssertEqual(files(folder("publish")), [])
        XCTAssertEqual(files(folder("quarantine")), [asset + ".jpg", asset + ".reason.json"])
        XCTAssertEqual(
            try Data(contentsOf: folder("quarantine").appendingPathComponent(asset + ".reason.json")), reasonBefore)
        XCTAssertEqual(
            try sql("SELECT COUNT(*) FROM events WHERE asset='\(asset)' AND kind IN ('published','quarantined')"), "1")
    }

    func testARetractionThatCannotMoveStillTakesThePictureOffline() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try drop("demo-group-photo.jpg", as: "b.jpg")
        XCTAssertEqual(try runPipeline().status, 0)
        let published = files(folder("publish"))
        XCTAssertEqual(published.count, 2)
        // Both patients revoke; moving the first one to `retracted` is made impossible (a folder holds its name).
        try revoke("AUTH-DEMO-0001")
        try revoke("AUTH-DEMO-0006")
        let blocker = folder("retracted").appendingPathComponent(try XCTUnwrap(published.first))
            .appendingPathComponent("x")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        let result = try runPipeline()
        XCTAssertEqual(result.status, 1, "\(result.summary)")
        XCTAssertEqual(result.summary["retracted"] as? Int, 2)
        XCTAssertEqual(result.summary["left"] as? Int, 0)
        XCTAssertEqual(files(folder("publish")), [], "both pictures are offline")
        XCTAssertEqual(Set(files(folder("retracted"))), Set(published), "one moved; the other name is the blocker")
        XCTAssertEqual(files(folder("archive")).count, 2, "the originals stay in the archive")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='retracted'"), "2")
        XCTAssertEqual(
            try sql("SELECT COUNT(*) FROM events WHERE kind='retracted' AND detail LIKE '%\"withdrawn\":\"deleted\"%'"),
            "1", "the ledger says which one was deleted")
        XCTAssertEqual(try runPipeline().status, 0, "nothing is left to do")
    }

    func testTwoInstancesAtOnce() throws {
        let inputs = try dropMany(60)
        let processes = try (0..<2).map { _ -> Process in
            try start(["run", pipeline])
        }
        var statuses: [Int32] = []
        for process in processes {
            process.waitUntilExit()
            statuses.append(process.terminationStatus)
        }
        // One takes the lock and quarantines the unconsented half (1); the other finds what is left (0 or 1).
        XCTAssertTrue(statuses.allSatisfy { $0 == 0 || $0 == 1 } && statuses.contains(1), "\(statuses)")
        try assertInvariants(inputs: inputs)
    }
}

enum MediaFormatsSHA {
    static func hex(_ bytes: [UInt8]) -> String { sha256Hex(bytes) }
}
