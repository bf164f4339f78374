import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import TestSupport
import XCTest

@testable import Pipeline

/// The pipeline's pieces on their own: configuration, discovery, the CPU stages, the ledger.
final class StageTests: XCTestCase {
    static let sampleMedia = Fixtures.sampleMedia
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cg-stage-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func config(_ extra: String = "", folders: String? = nil) -> String {
        """
        name: unit
        channel: website
        folders: \(folders ?? "{inbox: in, publish: out/p, quarantine: out/q, archive: out/a, retracted: out/r}")
        authorizations: auth
        trust: trust.yml
        ledger: out/ledger.sqlite
        \(extra)
        """
    }

    func testConfigResolvesPathsAndRefusesWhatIsWrong() throws {
        let path = root.appendingPathComponent("p.yml").path
        let parsed = try PipelineConfig.parse(config("settle_seconds: 5\nsanitize: {keep_icc: false}"), path: path)
        XCTAssertEqual(parsed.inbox, root.appendingPathComponent("in").path)
        XCTAssertEqual(parsed.settleSeconds, 5)
        XCTAssertFalse(parsed.sanitize.keepICC)
        XCTAssertTrue(parsed.sanitize.keepOrientation)
        func error(_ text: String) -> String {
            do {
                _ = try PipelineConfig.parse(text, path: path)
                return "accepted"
            } catch { return error.message }
        }
        XCTAssertTrue(error(config("colour: blue")).hasSuffix("unknown key colour"))
        XCTAssertTrue(error(config("sanitize: {strip_all: true}")).hasSuffix("unknown key sanitize.strip_all"))
        XCTAssertTrue(
            error(config(folders: "{inbox: in, publish: in/pub, quarantine: q, archive: a, retracted: r}")).contains(
                "folders.publish (\(root.path)/in/pub) lies inside folders.inbox (\(root.path)/in)"))
        XCTAssertTrue(error(config("timezone: Mars/Olympus")).contains("not a known time zone"))
        XCTAssertEqual(
            try PipelineConfig.parse(config("timezone: America/Chicago"), path: path).timeZone.identifier,
            "America/Chicago")
        XCTAssertEqual(parsed.work, root.appendingPathComponent(".consentgate-work/in").path, "beside the inbox")
        // A link makes two different names one place: resolved before comparing.
        try FileManager.default.createDirectory(at: root.appendingPathComponent("real"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("via-link").path, withDestinationPath: root.appendingPathComponent("real").path)
        XCTAssertTrue(
            error(config(folders: "{inbox: in, publish: via-link, quarantine: q, archive: real/a, retracted: r}"))
                .contains("folders.archive"))
        XCTAssertTrue(
            error(config(folders: "{inbox: in, publish: p, quarantine: q, archive: a}")).hasSuffix(
                "missing key folders.retracted"))
        XCTAssertTrue(error(config("settle_seconds: soon")).contains("settle_seconds must be a number"))
        XCTAssertTrue(error("- a list").contains("must be a YAML mapping"))
    }

    func testDiscoveryClassifiesWithoutFollowingOrReading() throws {
        let inbox = root.appendingPathComponent("in")
        try FileManager.default.createDirectory(
            at: inbox.appendingPathComponent("sub/deeper"), withIntermediateDirectories: true)
        let picture = try Data(contentsOf: Self.sampleMedia.appendingPathComponent("demo-phone-photo.jpg"))
        try picture.write(to: inbox.appendingPathComponent("sub/deeper/ok.jpg"))
        try picture.write(to: inbox.appendingPathComponent("fresh.jpg"))
        try picture.write(to: inbox.appendingPathComponent("upload.part"))
        try picture.write(to: inbox.appendingPathComponent(".hidden.jpg"))
        try FileManager.default.createSymbolicLink(
            atPath: inbox.appendingPathComponent("link.jpg").path, withDestinationPath: "/etc/passwd")
        XCTAssertEqual(mkfifo(inbox.appendingPathComponent("fifo").path, 0o600), 0)
        // Old enough to have settled, except fresh.jpg.
        let old = Date().addingTimeInterval(-3600)
        for name in ["sub/deeper/ok.jpg", "upload.part", ".hidden.jpg"] {
            try FileManager.default.setAttributes(
                [.modificationDate: old], ofItemAtPath: inbox.appendingPathComponent(name).path)
        }
        let found = Folders.discover(inbox: inbox.path, settle: 60, now: Date())
        var kinds: [String: String] = [:]
        for entry in found {
            switch entry {
            case .file(_, let relative, _, _, _): kinds[String(decoding: relative, as: UTF8.self)] = "file"
            case .hostile(_, let relative, let why, _):
                kinds[String(decoding: relative, as: UTF8.self)] = "hostile: " + why
            case .unsettled(let path, _, _): kinds[(path.display as NSString).lastPathComponent] = "unsettled"
            case .unreadable(let path, _): kinds[path.display] = "unreadable"
            }
        }
        XCTAssertEqual(kinds["sub/deeper/ok.jpg"], "file")
        XCTAssertEqual(kinds["fresh.jpg"], "unsettled")
        XCTAssertEqual(kinds["link.jpg"], "hostile: a symbolic link: never followed")
        XCTAssertEqual(kinds["fifo"], "hostile: a FIFO (named pipe): never read")
        XCTAssertNil(kinds["upload.part"])
        XCTAssertNil(kinds[".hidden.jpg"])
        XCTAssertEqual(kinds.count, 4)
    }

    func testAFolderSwappedForALinkAfterTheListingCannotRedirectTheClaim() throws {
        let inbox = root.appendingPathComponent("in")
        let sub = inbox.appendingPathComponent("sub")
        let records = root.appendingPathComponent("authorizations")
        let work = root.appendingPathComponent("work")
        for folder in [sub, records, work] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        try Data("picture a".utf8).write(to: sub.appendingPathComponent("a.jpg"))
        try Data("picture b".utf8).write(to: sub.appendingPathComponent("b.jpg"))
        try Data("a signed revocation".utf8).write(to: records.appendingPathComponent("b.jpg"))
        var claimed: [String] = []
        try Folders.discover(inbox: inbox.path, settle: 0, now: Date()) { entry in
            guard case .file(_, let relative, _, _, let place) = entry else { return true }
            let name = String(decoding: relative, as: UTF8.self)
            if name == "sub/a.jpg" {
                // The worst moment: after the listing, before the next claim, the subfolder becomes a link.
                XCTAssertEqual(rename(sub.path, inbox.appendingPathComponent("sub-old").path), 0)
                XCTAssertNoThrow(try FileManager.default.createSymbolicLink(at: sub, withDestinationURL: records))
            }
            let target = work.appendingPathComponent(String(claimed.count)).path
            XCTAssertEqual(place.withName { renameat(place.folder.fd, $0, AT_FDCWD, target) }, 0, name)
            claimed.append(name)
            return true
        }
        XCTAssertEqual(claimed, ["sub/a.jpg", "sub/b.jpg"])
        XCTAssertEqual(try String(contentsOf: records.appendingPathComponent("b.jpg"), encoding: .utf8), "a signed revocation")
        XCTAssertEqual(try String(contentsOf: work.appendingPathComponent("1"), encoding: .utf8), "picture b")
        // And an inbox that is itself a link is not walked at all.
        let linkedInbox = root.appendingPathComponent("linked-in")
        try FileManager.default.createSymbolicLink(at: linkedInbox, withDestinationURL: records)
        let found = Folders.discover(inbox: linkedInbox.path, settle: 0, now: Date())
        guard case .unreadable(_, let why)? = found.first, found.count == 1 else { return XCTFail("\(found)") }
        XCTAssertTrue(why.contains("link"), why)
    }

    func testAMoveAcrossFilesystemsStreamsTheFileAndKeepsRawNames() throws {
        // /dev/shm is a tmpfs on Linux: a rename into it from the temporary folder fails with EXDEV.
        var here = stat()
        var there = stat()
        guard stat(root.path, &here) == 0, stat("/dev/shm", &there) == 0, here.st_dev != there.st_dev else {
            throw XCTSkip("no second filesystem at /dev/shm to move across")
        }
        let target = URL(fileURLWithPath: "/dev/shm").appendingPathComponent("cg-move-" + UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: target) }
        // A name that is not UTF-8 (as a Windows share may hand over), holding 3 MiB.
        let name: [UInt8] = Array("clip-".utf8) + [0xE9, 0xFF] + Array(".mp4".utf8)
        let source = RawPath(Array(root.path.utf8)).appending(name)
        let content = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fd = source.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o600) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(content.withUnsafeBytes { write(fd, $0.baseAddress!, content.count) }, content.count)
        close(fd)
        try Folders.move(source, to: target.path, allowCopy: true)
        XCTAssertEqual(Array(try Data(contentsOf: target)), content)
        XCTAssertNotEqual(source.withCString { access($0, F_OK) }, 0, "the source is removed after the copy")
    }

    /// A prepared pipeline on this test's folders with the demo trust file, and the demo records as of 2027-01-15.
    func demoPipeline() throws -> (PipelineConfig, Registry, Date) {
        let trust = try TrustStore.load(path: Self.sampleMedia.appendingPathComponent("trust.DEMO.yml").path)
        let now = Timestamp.parse("2027-01-15T00:00:00Z")!
        let registry = try Registry.load(
            folder: Self.sampleMedia.appendingPathComponent("records").path, trust: trust, now: now)
        let parsed = try PipelineConfig.parse(config(), path: root.appendingPathComponent("p.yml").path)
        for folder in ["in", "auth"] {
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(
            at: Self.sampleMedia.appendingPathComponent("trust.DEMO.yml"), to: root.appendingPathComponent("trust.yml"))
        try parsed.prepare(create: true)
        return (parsed, registry, now)
    }

    func testAFailedFirstCopyTakesItsBatchDuplicateAndKeepsAnOldCopyLive() throws {
        let (parsed, registry, now) = try demoPipeline()
        let stages = Stages(config: parsed, registry: registry, now: now)
        func process(_ asset: String) throws -> Processed {
            let copy = root.appendingPathComponent(asset)
            try Data(contentsOf: Self.sampleMedia.appendingPathComponent("demo-phone-photo.jpg")).write(to: copy)
            let item = stages.process(asset: asset, path: RawPath(copy.path), original: "photo.jpg")
            XCTAssertEqual(item.decision?.approved, true, "\(item.reasons)")
            return item
        }
        let ledger = try Ledger(path: parsed.ledger)
        let runner = Runner(config: parsed)
        // Two consented copies of one picture in one batch; the first one's verified copy cannot be synced (gone).
        let first = try process("first")
        let second = try process("second")
        unlink(try XCTUnwrap(first.sanitized?.pending?.temporaryPath))
        let results = runner.deliverTogether([first, second], ledger: ledger, now: now)
        XCTAssertThrowsError(try results[0].get())
        // The second was planned as the first's duplicate: with nothing published it is not one, and it waits.
        XCTAssertThrowsError(try results[1].get(), "a duplicate of a copy that was never published")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parsed.publish).filter { !$0.hasPrefix(".") }, [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parsed.archive), [])
        XCTAssertEqual(try ledger.events().filter { $0.kind != "claimed" }.map(\.kind), [])
        let content = try XCTUnwrap(first.fingerprints?.presentedSHA256)
        XCTAssertFalse(runner.live.withLock { $0.contains(content) }, "nothing of it is live")

        // A copy an interrupted run left in publish stays live when this run's new copy of it fails.
        let recovered = try process("recovered")
        try Data("an interrupted run's copy".utf8).write(to: URL(fileURLWithPath: parsed.publish + "/recovered.jpg"))
        unlink(try XCTUnwrap(recovered.sanitized?.pending?.temporaryPath))
        XCTAssertThrowsError(try runner.deliverTogether([recovered], ledger: ledger, now: now)[0].get())
        XCTAssertTrue(runner.live.withLock { $0.contains(content) }, "its picture stays live: no second copy beside it")
        second.sanitized?.pending?.discard()
    }

    func testStagesDecideAndSanitizeOnlyWhatIsConsented() throws {
        let (parsed, registry, now) = try demoPipeline()
        let stages = Stages(config: parsed, registry: registry, now: now)
        func process(_ name: String) throws -> Processed {
            let copy = root.appendingPathComponent(UUID().uuidString)
            try Data(try Data(contentsOf: Self.sampleMedia.appendingPathComponent(name))).write(to: copy)
            return stages.process(asset: "a", path: RawPath(copy.path), original: name)
        }
        let consented = try process("demo-phone-photo.jpg")
        XCTAssertEqual(consented.decision?.approved, true)
        XCTAssertTrue(consented.reasons.isEmpty)
        // The verified output waits under a temporary name in the publish folder until delivery commits it.
        let pending = try XCTUnwrap(consented.sanitized?.pending)
        XCTAssertTrue(pending.temporaryPath.hasPrefix(parsed.publish + "/."))
        XCTAssertTrue(FileManager.default.fileExists(atPath: pending.temporaryPath))
        pending.discard()
        // A video is fingerprinted and sanitized in place, like a picture (AUTH-DEMO-0007 lists it).
        let clip = try process("demo-clip.mp4")
        XCTAssertEqual(clip.format, .mp4)
        XCTAssertEqual(clip.decision?.approved, true, "\(clip.reasons)")
        XCTAssertNotNil(clip.sanitized?.pending)
        XCTAssertTrue(clip.sanitized?.removed.contains { $0.contains("udta") } ?? false)
        clip.sanitized?.pending?.discard()
        let dry = Stages(config: parsed, registry: registry, now: now, dryRun: true)
        let copy = root.appendingPathComponent(UUID().uuidString)
        try FileManager.default.copyItem(at: Self.sampleMedia.appendingPathComponent("demo-clip.mp4"), to: copy)
        let checked = dry.process(asset: "d", path: RawPath(copy.path), original: "demo-clip.mp4")
        XCTAssertNotNil(checked.sanitized)
        XCTAssertNil(checked.sanitized?.pending, "a dry run writes nothing")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parsed.publish), [])
        let expired = try process("demo-camera-photo.jpg")
        XCTAssertEqual(expired.reasons.map(\.code.rawValue), ["expired"])
        XCTAssertNil(expired.sanitized, "nothing unconsented is even sanitized")
        let text = try process("not-a-picture.jpg")
        XCTAssertEqual(text.reasons.map(\.code.rawValue), ["not_media", "no_record"], "not media, said first")
        let empty = root.appendingPathComponent("empty")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        XCTAssertEqual(
            stages.process(asset: "e", path: RawPath(empty.path), original: "empty").reasons.map(\.code.rawValue), ["empty"])
    }

    /// Issue 14: the writer leaves the comparison of what the copy presents to the verifier, which compares it with
    /// the inspecting reader's fingerprint. A fingerprint the copy does not present (a lying or mistaken reader, a
    /// file changed between the readings) must still leave no copy behind.
    func testAWrongFingerprintFromTheInspectionLeavesNoCopy() throws {
        let (parsed, registry, now) = try demoPipeline()
        let stages = Stages(config: parsed, registry: registry, now: now)
        for name in ["demo-phone-photo.jpg", "demo-clip.mp4"] {
            let copy = root.appendingPathComponent(UUID().uuidString)
            try FileManager.default.copyItem(at: Self.sampleMedia.appendingPathComponent(name), to: copy)
            var item = stages.inspect(ClaimedFile(asset: "w", path: RawPath(copy.path), original: name))
            let source = try XCTUnwrap(item.source)
            let right = try XCTUnwrap(item.fingerprints)
            item.fingerprints?.presentedSHA256 = String(repeating: "0", count: 64)
            XCTAssertThrowsError(try stages.sanitize.write(item, from: source), name) { error in
                // The verifier's refusal, not the writer's ("what the picture presents ... changed"): the writer
                // left the comparison to it.
                let text = "\(error)"
                XCTAssertTrue(
                    text.contains("the written copy does not present what the original presents")
                        || text.contains("the written file presents something else"), text)
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parsed.publish), [], name)
            item.fingerprints = right
            let written = try stages.sanitize.write(item, from: source)
            XCTAssertNotNil(written.pending, name)
            written.pending?.discard()
        }
    }

    func testAFileThatChangesWhileInHandIsQuarantined() throws {
        let (parsed, registry, now) = try demoPipeline()
        for sample in ["demo-phone-photo.jpg", "demo-clip.mp4"] {
            let copy = root.appendingPathComponent(UUID().uuidString)
            try FileManager.default.copyItem(at: Self.sampleMedia.appendingPathComponent(sample), to: copy)
            var stages = Stages(config: parsed, registry: registry, now: now)
            // A writer that still holds the file appends to it after the fingerprints were taken.
            stages.afterFingerprints = {
                let handle = try? FileHandle(forWritingTo: copy)
                handle?.seekToEndOfFile()
                handle?.write(Data("appended by a slow upload".utf8))
                try? handle?.close()
            }
            let item = stages.process(asset: "c", path: RawPath(copy.path), original: sample)
            XCTAssertEqual(item.reasons.first?.code, .changed, "\(sample): \(item.reasons)")
            XCTAssertNil(item.sanitized, "\(sample): nothing is published from a file that changed")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parsed.publish), [], "no temporary left")
        // A second name made for the file before it was opened (after discovery looked): never read.
        let claimed = root.appendingPathComponent("claimed")
        try FileManager.default.copyItem(at: Self.sampleMedia.appendingPathComponent("demo-phone-photo.jpg"), to: claimed)
        XCTAssertEqual(link(claimed.path, root.appendingPathComponent("second-name").path), 0)
        let linked = Stages(config: parsed, registry: registry, now: now).process(
            asset: "l", path: RawPath(claimed.path), original: "x")
        XCTAssertEqual(linked.reasons.map(\.code.rawValue), ["not_a_regular_file"])
        XCTAssertNil(linked.fingerprints, "not read")
    }

    func testLedgerChainFindsEditsAndGaps() throws {
        let ledger = try Ledger(path: root.appendingPathComponent("l.sqlite").path)
        for kind: EventKind in [.claimed, .quarantined, .claimed] {
            try ledger.append(
                pipeline: "unit", kind: kind, asset: "a", fileSHA256: nil, contentSHA256: nil, detail: ["n": 1])
        }
        XCTAssertEqual(try ledger.verifyChain(), [])
        try ledger.queue.write { db in try db.execute(sql: "UPDATE events SET kind = 'published' WHERE seq = 2") }
        // The edit shows in the chain, and in the state kept beside it (the decisions table no longer matches).
        XCTAssertEqual(
            try ledger.verifyChain(),
            [
                "event 2 was edited (its hash does not match)",
                "the decisions table differs from the events for a (unit)",
            ])
        try ledger.queue.write { db in try db.execute(sql: "UPDATE events SET kind = 'quarantined' WHERE seq = 2") }
        try ledger.queue.write { db in try db.execute(sql: "DELETE FROM events WHERE seq = 2") }
        XCTAssertEqual(
            try ledger.verifyChain(),
            [
                "event 2 is missing (next is 3)", "event 3 does not follow the event before it",
                "the decisions table lists a (unit), which no event decides",
            ])
    }
}

/// `max_hidden_lead_in_seconds` (issue 22): read into the sanitize options the workers get, validated.
final class HiddenLeadInConfigTests: XCTestCase {
    func testTheKeyIsReadAndValidated() throws {
        let base = """
            name: unit
            channel: website
            folders: {inbox: in, publish: out/p, quarantine: out/q, archive: out/a, retracted: out/r}
            authorizations: auth
            trust: trust.yml
            ledger: out/ledger.sqlite

            """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cg-leadin-\(UUID().uuidString)/p.yml").path
        XCTAssertNil(try PipelineConfig.parse(base, path: path).sanitize.maxHiddenLeadInSeconds)
        XCTAssertEqual(try PipelineConfig.parse(base, path: path).sanitize.hiddenLeadInBound, 2)
        XCTAssertEqual(
            try PipelineConfig.parse(base + "max_hidden_lead_in_seconds: 0.5", path: path).sanitize.hiddenLeadInBound, 0.5)
        XCTAssertEqual(try PipelineConfig.parse(base + "max_hidden_lead_in_seconds: 0", path: path).sanitize.hiddenLeadInBound, 0)
        for bad in ["-1", "lots", "61"] {
            XCTAssertThrowsError(try PipelineConfig.parse(base + "max_hidden_lead_in_seconds: \(bad)", path: path)) {
                XCTAssertTrue("\($0)".contains("max_hidden_lead_in_seconds must be a number of seconds"), "\($0)")
            }
        }
    }
}
