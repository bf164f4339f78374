import ByteKit
import Foundation
/// SHA-256 through the library, for comparing files.
import MediaFormats
import TestSupport
import XCTest

/// What the pipeline tests share: a pipeline on temporary folders with the demo records and trust file, run
/// through the built binary, and the invariants every run must keep.
class PipelineTestCase: XCTestCase {
    var root: URL!
    var inbox: URL { root.appendingPathComponent("inbox") }
    func folder(_ name: String) -> URL { root.appendingPathComponent("out").appendingPathComponent(name) }
    var pipeline: String { root.appendingPathComponent("pipeline.yml").path }
    var ledger: String { root.appendingPathComponent("out/ledger.sqlite").path }
    /// The default work folder: `.consentgate-work/INBOX-NAME` beside the inbox.
    var work: URL { root.appendingPathComponent(".consentgate-work/inbox") }
    var records: URL { root.appendingPathComponent("authorizations") }

    override func setUpWithError() throws {
        root = try Fixtures.temporaryFolder()
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        let records = root.appendingPathComponent("authorizations")
        try FileManager.default.copyItem(at: Fixtures.sampleMedia.appendingPathComponent("records"), to: records)
        try FileManager.default.copyItem(
            at: Fixtures.sampleMedia.appendingPathComponent("trust.DEMO.yml"),
            to: root.appendingPathComponent("trust.yml"))
        // A checkout under umask 002 makes it group-writable, which ConsentGate refuses for a trust file.
        chmod(root.appendingPathComponent("trust.yml").path, 0o644)
        try writePipeline(settle: 0)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func writePipeline(settle: Int, extra: String = "") throws {
        let yaml = """
            name: test-website
            channel: website
            folders: {inbox: inbox, publish: out/publish, quarantine: out/quarantine, archive: out/archive, retracted: out/retracted}
            authorizations: authorizations
            trust: trust.yml
            ledger: out/ledger.sqlite
            settle_seconds: \(settle)
            \(extra)
            """
        try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
    }

    func runPipeline(_ extra: [String] = []) throws -> (status: Int32, summary: [String: Any]) {
        let outcome = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline, "--json"] + extra, timeout: 120)
        let list = (try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]]
        return (outcome.status, list?.first ?? ["stderr": outcome.stderr])
    }

    /// Starts the binary in the background, its output discarded.
    func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func drop(_ sample: String, as name: String, trailer: [UInt8] = []) throws {
        var bytes = try Fixtures.sample(sample)
        bytes += trailer
        try Data(bytes).write(to: inbox.appendingPathComponent(name))
    }

    func files(_ url: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    func sha(_ url: URL) throws -> String {
        let bytes = Array(try Data(contentsOf: url))
        return MediaFormatsSHA.hex(bytes)
    }

    func sql(_ query: String) throws -> String {
        let script =
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print(r[0][0] if r else '')"
        return try Fixtures.run("/usr/bin/env", ["python3", "-c", script, ledger, query]).text
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every input ended in exactly one outcome, byte-exact; nothing partial in publish; the ledger agrees.
    func assertInvariants(inputs: [String: Int], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(files(inbox).filter { !$0.hasSuffix(".part") }, [], "inbox not empty", file: file, line: line)
        XCTAssertEqual(files(work), [], "claimed files left", file: file, line: line)
        let archived = files(folder("archive"))
        let quarantined = files(folder("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        var outcomes: [String: Int] = [:]
        for name in archived { outcomes[try sha(folder("archive").appendingPathComponent(name)), default: 0] += 1 }
        for name in quarantined {
            outcomes[try sha(folder("quarantine").appendingPathComponent(name)), default: 0] += 1
        }
        XCTAssertEqual(outcomes, inputs, "originals are not exactly the inputs, once each", file: file, line: line)
        let published = files(folder("publish"))
        let hidden = ((try? FileManager.default.contentsOfDirectory(atPath: folder("publish").path)) ?? []).filter {
            $0.hasPrefix(".")
        }
        XCTAssertEqual(hidden, [], "temporary files in publish", file: file, line: line)
        // Every published picture's original is archived; the other archived originals are duplicates of a picture
        // already live (one picture, one publication).
        let publishedAssets = Set(published.map { String($0.prefix(32)) })
        let archivedAssets = Set(archived.map { String($0.prefix(32)) })
        XCTAssertTrue(publishedAssets.isSubset(of: archivedAssets), "published without an archived original", file: file, line: line)
        XCTAssertEqual(
            String(archivedAssets.subtracting(publishedAssets).count),
            try sql("SELECT COUNT(DISTINCT asset) FROM events WHERE kind='duplicate'"), "archived but neither published nor a duplicate",
            file: file, line: line)
        for name in quarantined {
            let asset = String(name.prefix(32))
            XCTAssertTrue(
                FileManager.default.fileExists(
                    atPath: folder("quarantine").appendingPathComponent(asset + ".reason.json").path))
        }
        XCTAssertEqual(
            try sql("SELECT COUNT(DISTINCT asset) FROM events WHERE kind='published'"), String(published.count),
            file: file, line: line)
        XCTAssertEqual(
            try sql("SELECT COUNT(*) FROM events WHERE kind='published'"), String(published.count), "published twice",
            file: file, line: line)
        XCTAssertEqual(
            try sql("SELECT COUNT(DISTINCT asset) FROM events WHERE kind='quarantined'"), String(quarantined.count),
            file: file, line: line)
        XCTAssertEqual(
            try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline]).status, 0,
            file: file, line: line)
    }

    /// Distinct inputs: consented and unconsented pictures, each made unique by bytes after EOI (which leave
    /// the content fingerprint unchanged).
    func dropMany(_ count: Int, from first: Int = 0) throws -> [String: Int] {
        var inputs: [String: Int] = [:]
        for index in first..<(first + count) {
            let sample = index % 2 == 0 ? "demo-phone-photo.jpg" : "demo-camera-photo.jpg"
            let trailer = Array("unique-\(index)".utf8)
            try drop(sample, as: "photo-\(index).jpg", trailer: trailer)
            inputs[MediaFormatsSHA.hex(try Fixtures.sample(sample) + trailer), default: 0] += 1
        }
        return inputs
    }

    /// `count` distinct pictures (ffmpeg test-pattern frames) and one authorization, AUTH-TEST-PICS, covering all
    /// of them on the website: for tests that need many different publishable pictures.
    func consentedPictures(_ count: Int) throws -> [URL] {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let folder = root.appendingPathComponent("pictures")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let made = try Fixtures.run(
            ffmpeg,
            [
                "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=1", "-frames:v", String(count), "-q:v",
                "2", "-y", folder.appendingPathComponent("p%03d.jpg").path,
            ])
        XCTAssertEqual(made.status, 0, made.stderr)
        let pictures = (1...count).map { folder.appendingPathComponent(String(format: "p%03d.jpg", $0)) }
        let recorded = try Fixtures.run(
            try Fixtures.consentgate,
            [
                "authorize", "--key", try demoKey(), "--id", "AUTH-TEST-PICS", "--subject", "P-TEST-1", "--channels",
                "website", "--effective", "2026-01-01", "--expires", "2036-01-01", "--out", records.path,
            ] + pictures.map(\.path))
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        return pictures
    }

    /// A private copy of the DEMO key (mode 0600), for `authorize`, `revoke` and `minisign -S`.
    func demoKey() throws -> String {
        let key = root.appendingPathComponent("demo.key")
        if !FileManager.default.fileExists(atPath: key.path) {
            try FileManager.default.copyItem(
                at: Fixtures.sampleMedia.appendingPathComponent("keys/demo-office.DEMO.key"), to: key)
            chmod(key.path, 0o600)
        }
        return key.path
    }

    /// `consentgate revoke` of an authorization into the authorizations folder; returns the record's file name.
    @discardableResult
    func revoke(_ authorization: String, extra: [String] = []) throws -> String {
        let before = Set(files(records))
        let outcome = try Fixtures.run(
            try Fixtures.consentgate,
            ["revoke", "--key", try demoKey(), "--authorization", authorization, "--out", records.path] + extra)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        return try XCTUnwrap(Set(files(records)).subtracting(before).first { $0.hasSuffix(".json") })
    }

    /// Signs arbitrary bytes as NAME (+ NAME.minisig) with the DEMO key through the stock minisign tool, so a
    /// test can write a record ConsentGate's own writer would refuse to write.
    func signWithMinisign(_ text: String, as name: String, comment: String? = nil) throws {
        let minisign = try Fixtures.requireTool("minisign")
        let path = records.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let outcome = try Fixtures.run(
            minisign, ["-S", "-s", try demoKey(), "-m", path, "-t", comment ?? "type=x id=x", "-x", path + ".minisig"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
    }

    func summaryList(_ summary: [String: Any], _ key: String) -> [[String: Any]] {
        summary[key] as? [[String: Any]] ?? []
    }
}

