import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// The checked rename that shares without RENAME_NOREPLACE use (issue 31, docs/shares.md), forced on the local disk
/// through the debug build's CONSENTGATE_TEST_FORCE_PLAIN_RENAME: the same outcomes, never a replaced name, and the
/// run says which way each folder moves files.
final class PlainRenameTests: PipelineTestCase {
    func runForced(
        _ extra: [String] = [], hooks: [String: String] = ["CONSENTGATE_TEST_FORCE_PLAIN_RENAME": "1"]
    ) throws -> (status: Int32, summary: [String: Any], text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
        process.arguments = ["run", pipeline] + extra
        process.environment = ProcessInfo.processInfo.environment.merging(hooks) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let list = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]
        return (process.terminationStatus, list?.first ?? [:], String(decoding: data, as: UTF8.self))
    }

    func moves(_ summary: [String: Any]) -> [String: String] {
        var modes: [String: String] = [:]
        for report in summaryList(summary, "folders") {
            if let folder = report["folder"] as? String { modes[folder] = report["moves"] as? String }
        }
        return modes
    }

    func testTheCheckedRenameDeliversLikeRenameNoReplaceAndTheRunSaysWhichIsUsed() throws {
        let inputs = try dropMany(6)
        let forced = try runForced(["--json"])
        XCTAssertEqual(forced.status, 1, "\(forced.summary)")
        XCTAssertEqual(forced.summary["published"] as? Int, 1, "\(forced.summary)")
        XCTAssertEqual(forced.summary["duplicates"] as? Int, 2, "\(forced.summary)")
        XCTAssertEqual(forced.summary["quarantined"] as? Int, 3, "\(forced.summary)")
        let all = ["work", "publish", "quarantine", "archive", "retracted"]
        XCTAssertEqual(moves(forced.summary), Dictionary(uniqueKeysWithValues: all.map { ($0, "checked-rename") }))
        try assertInvariants(inputs: inputs)
        // The text summary says it too; on the local disk without the hook every folder has RENAME_NOREPLACE.
        try drop("demo-camera-photo.jpg", as: "later.jpg")
        XCTAssertTrue(try runForced().text.contains("moves: checked-rename in every folder"))
        let plain = try runPipeline()
        XCTAssertEqual(moves(plain.summary), Dictionary(uniqueKeysWithValues: all.map { ($0, "rename-noreplace") }))
        XCTAssertEqual(files(work), [])
    }

    func testARefusedFolderSyncIsReportedNeverSilent() throws {
        // Some network filesystems refuse fsync on a folder (EINVAL); debug builds can pretend to be one.
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        let result = try runForced(["--json"], hooks: ["CONSENTGATE_TEST_REFUSE_FOLDER_SYNC": "1"])
        XCTAssertEqual(result.summary["published"] as? Int, 1, "\(result.summary)")
        XCTAssertEqual(result.summary["quarantined"] as? Int, 1, "\(result.summary)")
        let reports = summaryList(result.summary, "folders")
        XCTAssertEqual(reports.count, 5)
        for report in reports {
            XCTAssertEqual(report["folder_sync_refused"] as? String, "Invalid argument", "\(report)")
        }
        let warnings = (result.summary["warnings"] as? [String] ?? []).joined(separator: "\n")
        for folder in ["work", "publish", "quarantine", "archive"] {
            XCTAssertTrue(warnings.contains("the \(folder) folder cannot be synced (Invalid argument)"), warnings)
            XCTAssertTrue(
                warnings.contains("the \(folder) folder could not be synced after a move into it (Invalid argument)"),
                warnings)
        }
        // Without the hook, nothing is said.
        try drop("demo-camera-photo.jpg", as: "c.jpg")
        let quiet = try runPipeline()
        XCTAssertFalse("\(quiet.summary["warnings"] ?? "")".contains("synced"), "\(quiet.summary)")
    }

    func testTheCheckedRenameNeverReplacesWhatHasTheNameAlready() throws {
        // A link dropped into the inbox goes to quarantine as ASSET.unread (its id from its device, inode and name):
        // something already there under that name stays, and the link is left, loudly.
        let outside = root.appendingPathComponent("outside.jpg")
        try Data(try Fixtures.sample("demo-phone-photo.jpg")).write(to: outside)
        let link = inbox.appendingPathComponent("link.jpg")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: outside.path)
        var info = stat()
        XCTAssertEqual(lstat(link.path, &info), 0)
        let asset = String(MediaFormatsSHA.hex(Array("\(info.st_dev):\(info.st_ino):link.jpg".utf8)).prefix(32))
        try FileManager.default.createDirectory(at: folder("quarantine"), withIntermediateDirectories: true)
        let blocker = folder("quarantine").appendingPathComponent(asset + ".unread")
        try Data("already here".utf8).write(to: blocker)
        let first = try runForced(["--json"])
        XCTAssertEqual(first.summary["left"] as? Int, 1, "\(first.summary)")
        XCTAssertEqual(try String(contentsOf: blocker, encoding: .utf8), "already here", "replaced")
        XCTAssertEqual(files(inbox), ["link.jpg"])

        // A different file in the work folder under a published asset's id: the archived original is never replaced.
        try FileManager.default.removeItem(at: link)
        try FileManager.default.removeItem(at: blocker)
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runForced().status, 0)
        let published = try XCTUnwrap(files(folder("publish")).first)
        let archived = folder("archive").appendingPathComponent(String(published.prefix(32)) + ".jpg")
        let original = try Data(contentsOf: archived)
        try Data(try Fixtures.sample("demo-camera-photo.jpg")).write(
            to: work.appendingPathComponent(String(published.prefix(32))))
        let second = try runForced(["--json"])
        XCTAssertEqual(try Data(contentsOf: archived), original, "the archived original was replaced")
        XCTAssertEqual(second.summary["quarantined"] as? Int, 1, "\(second.summary)")
        XCTAssertEqual(files(work), [])
        XCTAssertEqual(files(folder("publish")), [published])
    }
}

/// Settling on any filesystem (found on the share, issue 31): a look that finds a file too fresh still counts as the
/// first of the two looks, so a look `settle_seconds` later (run's own second look, SPEC §2, or a watcher's next
/// rescan) takes it, and a file that changed in between is not taken on its strength.
final class FirstLookTests: PipelineTestCase {
    func testAFileTooFreshAtOneLookIsTakenByALookSettleSecondsLater() throws {
        try writePipeline(settle: 3)
        try drop("demo-phone-photo.jpg", as: "fresh.jpg")
        let first = try runPipeline()
        XCTAssertEqual(first.summary["published"] as? Int, 1, "\(first.summary)")
        XCTAssertEqual(files(inbox), [])
        // A file that changes between the two looks is not taken.
        try drop("demo-camera-photo.jpg", as: "changing.jpg")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
        process.arguments = ["run", pipeline, "--json"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(1_500_000)
        try drop("demo-camera-photo.jpg", as: "changing.jpg", trailer: Array("more".utf8))
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let summary = ((try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(summary["unsettled"] as? Int, 1, "\(summary)")
        XCTAssertEqual(files(inbox), ["changing.jpg"])
    }
}
