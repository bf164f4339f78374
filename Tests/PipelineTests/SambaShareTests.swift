import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// The pipeline on a real SMB share (issue 31): a Samba server on loopback, mounted through smbnetfs (FUSE, which
/// rejects RENAME_NOREPLACE with EINVAL and refuses hard links), with the inbox, the work folder and publish on the
/// share (the README's layout; the kill test puts quarantine, archive and retracted there too), and every drop made
/// by a second SMB client (smbclient). The ledger, records and trust file stay on the local disk, as docs/shares.md
/// recommends. Skipped with a message where samba, smbnetfs or FUSE is missing, or without root; in CI (CI=true)
/// they must run.
final class SambaShareTests: PipelineTestCase {
    /// `Scripts/samba-share`'s folder (its smb.conf, state and mount point).
    var sambaFolder: URL!
    var port = ""
    /// The share as the gate sees it (through `root/share`, a link to the mounted share).
    var share: URL?

    /// ConsentGate's folders on the share (besides the inbox and work): the README's layout by default.
    var onShare: Set<String> = ["publish"]

    override var inbox: URL { share.map { $0.appendingPathComponent("inbox") } ?? super.inbox }
    override func folder(_ name: String) -> URL {
        guard let share, onShare.contains(name) else { return super.folder(name) }
        return share.appendingPathComponent(name)
    }
    override var work: URL { share.map { $0.appendingPathComponent(".consentgate-work/inbox") } ?? super.work }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try Self.requireShareTools()
        sambaFolder = root.appendingPathComponent("samba")
        try FileManager.default.createDirectory(at: sambaFolder, withIntermediateDirectories: true)
        let started = try Fixtures.run(script, ["start", sambaFolder.path], timeout: 60)
        let lines = started.text.split(separator: "\n").map(String.init)
        guard started.status == 0, lines.count == 2 else {
            let why = "Scripts/samba-share could not start the share (exit \(started.status)): \(started.stderr)"
            if Self.inCI { XCTFail(why) }
            throw XCTSkip(why)
        }
        port = lines[0]
        // The folders' parent is a link to the mount (allowed: only the inbox and work themselves must not be links).
        let link = root.appendingPathComponent("share")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: lines[1])
        share = link
        XCTAssertEqual(try smbclient("mkdir inbox").status, 0)
        try writeSharePipeline(settle: 0)
    }

    override func tearDownWithError() throws {
        if let sambaFolder { _ = try? Fixtures.run(script, ["stop", sambaFolder.path], timeout: 60) }
        share = nil
        try super.tearDownWithError()
    }

    var script: String { Fixtures.packageRoot.appendingPathComponent("Scripts/samba-share").path }
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Skips (outside CI) or fails (in CI) when the share cannot be had here, saying what is missing.
    static func requireShareTools() throws {
        var missing: [String] = []
        for tool in ["/usr/sbin/smbd", "/usr/bin/smbclient", "/usr/bin/smbnetfs", "/usr/bin/fusermount"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            missing.append(tool + " (Debian: samba, smbclient, smbnetfs; Scripts/test installs them)")
        }
        if !FileManager.default.fileExists(atPath: "/dev/fuse") { missing.append("/dev/fuse") }
        if getuid() != 0 { missing.append("root (smbd and the FUSE mount)") }
        guard missing.isEmpty else {
            let why = "a Samba share through smbnetfs needs " + missing.joined(separator: ", ")
            if inCI { XCTFail(why) }
            throw XCTSkip(why)
        }
    }

    /// The inbox and work on the share, and the folders in `onShare`; the others on the local disk.
    func writeSharePipeline(settle: Int, extra: String = "") throws {
        func place(_ name: String) -> String { (onShare.contains(name) ? "share/" : "out/") + name }
        let yaml = """
            name: test-website
            channel: website
            folders: {inbox: share/inbox, publish: \(place("publish")), quarantine: \(place("quarantine")), archive: \(place("archive")), retracted: \(place("retracted"))}
            authorizations: authorizations
            trust: trust.yml
            ledger: out/ledger.sqlite
            settle_seconds: \(settle)
            \(extra)
            """
        try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
    }

    /// One command of the second SMB client on the share.
    @discardableResult
    func smbclient(_ commands: String) throws -> Fixtures.Outcome {
        try Fixtures.run("/usr/bin/smbclient", ["-N", "-p", port, "//127.0.0.1/clinic", "-c", commands], timeout: 60)
    }

    /// Drops are made by the second client, never through the gate's mount.
    override func drop(_ sample: String, as name: String, trailer: [UInt8] = []) throws {
        let local = root.appendingPathComponent("to-drop-" + name)
        try Data(try Fixtures.sample(sample) + trailer).write(to: local)
        let put = try smbclient("cd inbox; put \"\(local.path)\" \"\(name)\"")
        XCTAssertEqual(put.status, 0, put.output)
        try FileManager.default.removeItem(at: local)
    }

    func testADropBySecondClientIsPublishedOrQuarantinedOnTheShareAndARevocationRetractsIt() throws {
        try drop("demo-phone-photo.jpg", as: "Jane Demo-Doe consented.jpg")
        try drop("demo-camera-photo.jpg", as: "Jane Demo-Doe unconsented.jpg")
        let inputs = [
            MediaFormatsSHA.hex(try Fixtures.sample("demo-phone-photo.jpg")): 1,
            MediaFormatsSHA.hex(try Fixtures.sample("demo-camera-photo.jpg")): 1,
        ]
        let first = try runPipeline()
        XCTAssertEqual(first.status, 1, "\(first.summary)")
        XCTAssertEqual(first.summary["published"] as? Int, 1, "\(first.summary)")
        XCTAssertEqual(first.summary["quarantined"] as? Int, 1, "\(first.summary)")
        XCTAssertEqual(first.summary["left"] as? Int, 0, "\(first.summary)")
        // smbnetfs rejects RENAME_NOREPLACE: the folders on the share use the checked rename, the local ones
        // (quarantine, archive, retracted: the README's layout) RENAME_NOREPLACE, and the run says which.
        var modes: [String: String] = [:]
        for report in summaryList(first.summary, "folders") {
            modes[report["folder"] as? String ?? ""] = report["moves"] as? String
        }
        XCTAssertEqual(
            modes,
            [
                "work": "checked-rename", "publish": "checked-rename", "quarantine": "rename-noreplace",
                "archive": "rename-noreplace", "retracted": "rename-noreplace",
            ])
        try assertInvariants(inputs: inputs)
        // What the second client sees: the picture published on the share, nothing left in the inbox.
        let listing = try smbclient("ls publish/*; ls inbox/*").text
        let published = try XCTUnwrap(files(folder("publish")).first)
        XCTAssertTrue(listing.contains(published), listing)
        XCTAssertFalse(listing.contains("Demo-Doe"), listing)

        try revoke("AUTH-DEMO-0001")
        let second = try runPipeline()
        XCTAssertEqual(second.summary["retracted"] as? Int, 1, "\(second.summary)")
        XCTAssertEqual(files(folder("publish")), [], "the revoked picture is still on the share")
        XCTAssertEqual(files(folder("retracted")), [published])
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind='retracted'"), "1")

        // What cannot be had on this share is said, never passed over: the work folder's 0700 (smbnetfs shows
        // 0755), and a settle_seconds below twice its time granularity (whole seconds), which the run raises.
        // A file first seen by this run is taken by its second look settle_seconds later: the inbox is listed
        // afresh (smbnetfs lists a rewound folder descriptor as it was).
        try writeSharePipeline(settle: 1)
        try drop("demo-camera-photo.jpg", as: "later.jpg")
        usleep(2_500_000)
        let third = try runPipeline()
        XCTAssertEqual(third.summary["quarantined"] as? Int, 1, "\(third.summary)")
        XCTAssertEqual(files(inbox), [])
        let warnings = (third.summary["warnings"] as? [String] ?? []).joined(separator: "\n")
        XCTAssertTrue(warnings.contains("the work folder shows mode 755, not 0700"), warnings)
        XCTAssertTrue(warnings.contains("settle_seconds (1.0) is below twice"), warnings)
        XCTAssertEqual(
            summaryList(third.summary, "folders").first { $0["folder"] as? String == "work" }?["mtime_granularity_seconds"]
                as? Double, 1)
    }

    func testWatchTakesASecondClientsDropWithinTwoRescans() throws {
        // A drop is taken by the second rescan that sees it at the latest, even when the first finds it too fresh.
        let rescan = 4.0
        try writeSharePipeline(settle: 3, extra: "rescan_seconds: \(Int(rescan))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
        process.arguments = ["watch", pipeline]
        let errors = root.appendingPathComponent("watch.err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The first pass is done (the lock's note is written, then cleared when the pass ends).
        let ready = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: folder("publish").path) && Date() < ready { usleep(100_000) }
        usleep(500_000)
        // inotify does not see another client's writes on the share: only the rescan finds this drop.
        try drop("demo-phone-photo.jpg", as: "dropped-later.jpg")
        let dropped = Date()
        while files(folder("publish")).isEmpty && Date().timeIntervalSince(dropped) < 2 * rescan + 5 { usleep(100_000) }
        XCTAssertEqual(files(folder("publish")).count, 1, "watch did not take the drop within two rescans")
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(dropped), 2 * rescan + 5)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(files(inbox), [])
        // The watcher says once how the share's folders move files.
        let said = try String(contentsOf: errors, encoding: .utf8)
        XCTAssertEqual(
            said.components(separatedBy: "moves: work checked-rename, publish checked-rename").count, 2, said)
    }

    func testKillNineInTheMiddleOfARunOnTheShareLosesNothing() throws {
        // Every folder on the share: every move is a checked rename on it.
        onShare = ["publish", "quarantine", "archive", "retracted"]
        try writeSharePipeline(settle: 0)
        var inputs = try dropMany(16)
        var generator = SystemRandomNumberGenerator()
        var killed = 0
        var next = 16
        for _ in 0..<40 where killed < 6 {
            if files(inbox).isEmpty && files(work).isEmpty {
                inputs.merge(try dropMany(8, from: next)) { $0 + $1 }
                next += 8
            }
            let process = try start(["run", pipeline])
            usleep(UInt32.random(in: 50_000...1_500_000, using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            process.waitUntilExit()
        }
        XCTAssertGreaterThanOrEqual(killed, 3, "could not kill a running pass on the share")
        // A request the killed process had already sent (a rename into the work folder) can still be carried out by
        // the FUSE client and the server after the process is gone; the final run starts once the share is quiet.
        sleep(2)
        let final = try runPipeline()
        XCTAssertTrue([0, 1].contains(final.status), "\(final.summary)")
        try assertInvariants(inputs: inputs)
        XCTAssertEqual(files(folder("archive")).count, next / 2, "every consented picture published once")
        XCTAssertEqual(
            Set(summaryList(final.summary, "folders").map { $0["moves"] as? String ?? "" }), ["checked-rename"])
    }
}
