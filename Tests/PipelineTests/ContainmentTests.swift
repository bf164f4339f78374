import Foundation
import TestSupport
import XCTest

/// Issue 10: every operation on media bytes runs in a sandboxed worker, and a worker that falls costs its file at
/// most. Files carry test markers that make a worker crash, try to open a file, spin or hoard memory (honoured only
/// with CONSENTGATE_WORKER_TEST_HOOKS=1, which the binary passes on to its workers), as an exploited parser would.
final class ContainmentTests: PipelineTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        setenv("CONSENTGATE_WORKER_TEST_HOOKS", "1", 1)
    }

    override func tearDownWithError() throws {
        unsetenv("CONSENTGATE_WORKER_TEST_HOOKS")
        try super.tearDownWithError()
    }

    func testAFallingReaderCostsOneFileAndTheRunGoesOn() throws {
        try writePipeline(settle: 0, extra: "worker_seconds: 3")
        try drop("demo-phone-photo.jpg", as: "good.jpg")
        var inputs = [MediaFormatsSHA.hex(try Fixtures.sample("demo-phone-photo.jpg")): 1]
        for marker in ["CRASH", "OPEN", "SPIN"] {
            let bytes = try ContainmentTests.marked("CONSENTGATE-TEST-" + marker)
            try Data(bytes).write(to: inbox.appendingPathComponent(marker.lowercased() + ".jpg"))
            inputs[MediaFormatsSHA.hex(bytes), default: 0] += 1
        }
        let started = Date()
        let run = try runPipeline()
        XCTAssertEqual(run.status, 1, "\(run.summary)")
        XCTAssertEqual(run.summary["published"] as? Int, 1, "the good file is published: \(run.summary)")
        XCTAssertEqual(run.summary["quarantined"] as? Int, 3)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "a spinning reader is stopped by its deadline")
        let reasons = ((run.summary["items"] as? [[String: Any]]) ?? []).flatMap { $0["reasons"] as? [String] ?? [] }
        for expected in [
            "could not be read safely: the reader crashed (SIGSEGV)",
            "could not be read safely: the reader made a forbidden system call (SIGSYS)",
            "could not be read safely: the reader took longer than 3 s",
        ] {
            XCTAssertTrue(reasons.contains(expected), "\(expected) in \(reasons)")
        }
        // The reason files say what happened and that a new record cannot cure it.
        let reasonFiles = files(folder("quarantine")).filter { $0.hasSuffix(".reason.json") }
        XCTAssertEqual(reasonFiles.count, 3)
        for name in reasonFiles {
            let data = try Data(contentsOf: folder("quarantine").appendingPathComponent(name))
            let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let codes = (report["reasons"] as? [[String: Any]])?.compactMap { $0["code"] as? String }
            XCTAssertEqual(codes, ["reader_failed"])
            XCTAssertEqual(report["pending"] as? Bool, false)
        }
        try assertInvariants(inputs: inputs)
    }

    func testAReaderOverItsMemoryLimitIsQuarantinedWithThatReason() throws {
        try writePipeline(settle: 0, extra: "worker_memory_mb: 768")
        try drop("demo-phone-photo.jpg", as: "good.jpg")
        try Data(try ContainmentTests.marked("CONSENTGATE-TEST-ALLOCATE")).write(
            to: inbox.appendingPathComponent("hoard.jpg"))
        let run = try runPipeline()
        XCTAssertEqual(run.status, 1, "\(run.summary)")
        XCTAssertEqual(run.summary["published"] as? Int, 1)
        let reasons = ((run.summary["items"] as? [[String: Any]]) ?? []).flatMap { $0["reasons"] as? [String] ?? [] }
        XCTAssertTrue(
            reasons.contains("could not be read safely: the reader exceeded its memory limit (768 MiB)"), "\(reasons)")
    }

    /// While a run works, its workers are under the seccomp filter with no_new_privs; killing them from outside
    /// (SIGKILL) in the middle of the run loses nothing: the run finishes every file.
    func testWorkersAreSandboxedAndKillingThemLosesNothing() throws {
        try writePipeline(settle: 0, extra: "worker_seconds: 4")
        var inputs: [String: Int] = [:]
        for (index, name) in ["demo-phone-photo.jpg", "demo-group-photo.jpg", "demo-screenshot.png"].enumerated() {
            try drop(name, as: "\(index)-" + name)
            inputs[MediaFormatsSHA.hex(try Fixtures.sample(name)), default: 0] += 1
        }
        let spin = try ContainmentTests.marked("CONSENTGATE-TEST-SPIN")
        try Data(spin).write(to: inbox.appendingPathComponent("spin.jpg"))
        inputs[MediaFormatsSHA.hex(spin), default: 0] += 1
        let run = try start(["run", pipeline])
        var seen: [Int32] = []
        let deadline = Date().addingTimeInterval(20)
        while run.isRunning && Date() < deadline && seen.count < 2 {
            for pid in ContainmentTests.children(of: run.processIdentifier) where !seen.contains(pid) {
                // A worker locks itself in before its handshake; once it has, it works under the filter.
                guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                    status.contains("Seccomp:\t2")
                else { continue }
                XCTAssertTrue(status.contains("NoNewPrivs:\t1"), "worker \(pid) lacks no_new_privs")
                seen.append(pid)
                kill(pid, SIGKILL)
            }
            usleep(20_000)
        }
        XCTAssertFalse(seen.isEmpty, "no worker process was seen")
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 1, "the spinning file is quarantined, the run ends normally")
        let reasonTexts = try files(folder("quarantine")).filter { $0.hasSuffix(".reason.json") }.map {
            String(decoding: try Data(contentsOf: folder("quarantine").appendingPathComponent($0)), as: UTF8.self)
        }
        XCTAssertEqual(
            reasonTexts.filter { $0.contains("reader_failed") }.count, 1, "only the spinning file costs: \(reasonTexts)")
        try assertInvariants(inputs: inputs)
        let again = try runPipeline()
        for count in ["published", "quarantined", "left", "retracted"] {
            XCTAssertEqual(again.summary[count] as? Int, 0, "a second run finds nothing left to do: \(again.summary)")
        }
        // Test hooks are never silent: the summary says so, and the exit status counts it as a doubt.
        XCTAssertTrue((again.summary["unsandboxed"] as? String)?.contains("test hooks are on") ?? false)
        XCTAssertEqual(again.status, 1)
    }

    /// A JPEG of the demo set with a comment segment carrying `marker` right after SOI.
    static func marked(_ marker: String) throws -> [UInt8] {
        var bytes = try Fixtures.sample("demo-phone-photo.jpg")
        let text = Array(marker.utf8)
        let length = text.count + 2
        bytes.insert(contentsOf: [0xFF, 0xFE, UInt8(length >> 8), UInt8(length & 0xFF)] + text, at: 2)
        return bytes
    }

    /// The process ids whose parent is `parent` (from /proc).
    static func children(of parent: Int32) -> [Int32] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.range(of: ")", options: .backwards)
            else { return false }
            let fields = stat[close.upperBound...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent
        }
    }
}
