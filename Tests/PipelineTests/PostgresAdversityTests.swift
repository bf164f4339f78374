import Foundation
import TestSupport
import XCTest

/// Issue 30: several hosts on one PostgreSQL ledger when things go wrong: the server restarts or ends a session
/// mid-run, a host freezes (SIGSTOP) inside a ledger write or mid-sweep, and one host's sweeps run while the other
/// delivers hundreds of pictures.
final class PostgresAdversityTests: PostgresTestCase {
    /// Whether `process` ended within `seconds` (killed if not, so that the test ends).
    func ends(_ process: Process, within seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        return true
    }

    /// Whether `process` stopped itself (state T) within `seconds`.
    func stops(_ process: Process, within seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && process.isRunning {
            let stat = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)) ?? ""
            if let state = stat.split(separator: ")").last?.split(separator: " ").first, state == "T" { return true }
            usleep(20_000)
        }
        return false
    }

    /// Adds URL parameters (timeouts) to the pipeline's ledger URL.
    func addToURL(_ parameters: String) throws {
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: runtimeURL, with: runtimeURL + parameters)
        try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
    }

    /// Dates every file in the inbox an hour back: the next run records its first look and waits for it to settle.
    func ageInbox() throws {
        for name in files(inbox) {
            try FileManager.default.setAttributes(
                [.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: inbox.appendingPathComponent(name).path)
        }
    }

    /// Waits (60 s at most) until the run has recorded its first look at a file: it is waiting for it to settle.
    func waitForFirstLook() throws {
        let deadline = Date().addingTimeInterval(60)
        while try sql("SELECT COUNT(*) FROM observations") == "0" && Date() < deadline { usleep(50_000) }
    }

    func testASessionEndedByTheServerMidRunEndsTheRunWithExitThree() throws {
        try writePipeline(settle: 3)
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try ageInbox()
        let run = try launch(as: "host-a", ["run", pipeline, "--json"])
        try waitForFirstLook()
        try admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                + "AND usename = '\(Self.runtimeRole)'")
        XCTAssertTrue(ends(run, within: 30), "the run hangs on its dead session: \(output(of: "host-a"))")
        XCTAssertEqual(run.terminationStatus, 3, output(of: "host-a"))
        XCTAssertTrue(output(of: "host-a").contains("lost the connection to the database"), output(of: "host-a"))
        // Nothing was claimed: the next run publishes it.
        let again = try runAs("host-a", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertEqual(summary(again)["published"] as? Int, 1, again.stderr)
    }

    func testAServerRestartMidRunEndsTheRunWithExitThree() throws {
        let bin = try XCTUnwrap(
            ProcessInfo.processInfo.environment["CONSENTGATE_TEST_POSTGRES_BIN"], "Scripts/with-postgres sets it")
        let data = try admin("SHOW data_directory").trimmingCharacters(in: .whitespacesAndNewlines)
        try writePipeline(settle: 3)
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try ageInbox()
        let run = try launch(as: "host-a", ["run", pipeline, "--json"])
        try waitForFirstLook()
        // As the server's user, its output to a log of its own (the restarted server outlives this command).
        let asServer = getuid() == 0 ? "/usr/sbin/runuser -u nobody -- " : ""
        let log = (data as NSString).deletingLastPathComponent + "/restart.log"
        XCTAssertEqual(
            Self.shell("\(asServer)'\(bin)/pg_ctl' -D '\(data)' -l '\(log)' -m fast -w restart >/dev/null 2>&1"), 0)
        XCTAssertTrue(ends(run, within: 30), "the run hangs after the restart: \(output(of: "host-a"))")
        XCTAssertEqual(run.terminationStatus, 3, output(of: "host-a"))
        XCTAssertTrue(output(of: "host-a").contains("lost the connection to the database"), output(of: "host-a"))
        let again = try runAs("host-a", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertEqual(summary(again)["published"] as? Int, 1, again.stderr)
    }

    func testWatchEndsOnSIGTERMWhenItsSessionDiedMidPass() throws {
        try writePipeline(settle: 0, extra: "verify_decode: true")
        _ = try dropMany(60)
        let watch = try launch(as: "host-a", ["watch", pipeline])
        defer { kill(watch.processIdentifier, SIGKILL) }
        let deadline = Date().addingTimeInterval(120)
        while files(folder("archive")).isEmpty && watch.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(files(folder("archive")).isEmpty, "watch delivered nothing: \(output(of: "host-a"))")
        try admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                + "AND usename = '\(Self.runtimeRole)'")
        kill(watch.processIdentifier, SIGTERM)
        XCTAssertTrue(ends(watch, within: 30), "watch ignored SIGTERM: \(output(of: "host-a"))")
        XCTAssertTrue([0, 1, 3].contains(watch.terminationStatus), output(of: "host-a"))
    }

    func testAHostFrozenInsideALedgerWriteHoldsUpNoOtherHost() throws {
        lease = 6
        // The default timeouts: the server ends a session idle in a transaction after 10 s, a waiter gives up after 30.
        try writePipeline(settle: 0)
        var inputs = try dropMany(1)
        let frozen = try launch(
            as: "host-a", ["run", pipeline, "--json"], environment: ["CONSENTGATE_TEST_STOP_AT": "append"])
        defer { kill(frozen.processIdentifier, SIGKILL) }
        XCTAssertTrue(stops(frozen, within: 60), "host-a did not freeze in its ledger write: \(output(of: "host-a"))")
        // host-a is frozen holding the head of the chain; host-b's run must still end, and soon.
        inputs.merge(try dropMany(1, from: 1)) { $0 + $1 }
        let started = Date()
        let other = try runAs("host-b", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertTrue([0, 1].contains(other.status), other.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "host-b waited on the frozen host")
        // host-a wakes: its transaction was ended by the server; it writes nothing and exits 3.
        kill(frozen.processIdentifier, SIGCONT)
        XCTAssertTrue(ends(frozen, within: 30), output(of: "host-a"))
        XCTAssertEqual(frozen.terminationStatus, 3, output(of: "host-a"))
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE detail LIKE '%host-a%'"), "0")
        // After host-a's lease, host-b finishes what host-a had claimed: everything ends once.
        sleep(UInt32(lease) + 1)
        let late = try runAs("host-b", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertTrue([0, 1].contains(late.status), late.stderr)
        try assertInvariants(inputs: inputs)
    }

    func testTimeoutsAreURLParametersAndABadOneIsAConfigurationError() throws {
        try addToURL("&statement_timeout=0")
        let refused = try runAs("host-a", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("statement_timeout"), refused.stderr)
        try writePipeline(settle: 0)
        try addToURL("&connect_timeout=5&statement_timeout=20&lock_timeout=10&idle_in_transaction_timeout=3&keepalives_idle=15")
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let run = try runAs("host-a", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertEqual(summary(run)["published"] as? Int, 1, run.stderr)
    }

    func testAHostFrozenMidSweepLosesTheSweepToAnotherAfterTheLease() throws {
        lease = 4
        try writePipeline(settle: 0)
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let published = try runAs("host-a", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertEqual(summary(published)["published"] as? Int, 1, published.stderr)
        try revoke("AUTH-DEMO-0001")
        let frozen = try launch(
            as: "host-a", ["quarantine", "recheck", "--pipeline", pipeline],
            environment: ["CONSENTGATE_TEST_STOP_AT": "sweep"])
        defer { kill(frozen.processIdentifier, SIGKILL) }
        XCTAssertTrue(stops(frozen, within: 60), "host-a did not freeze in its sweep: \(output(of: "host-a"))")
        // While the frozen host's lease lives, the other host skips the sweep and says so.
        let early = try runAs("host-b", ["run", pipeline, "--json"], timeout: 60)
        let warnings = summary(early)["warnings"] as? [String] ?? []
        XCTAssertTrue(warnings.contains { $0.contains("sweep") && $0.contains("another host") }, "\(summary(early))")
        XCTAssertEqual(files(folder("publish")).count, 1)
        // After the lease it takes the sweep over: the revoked picture is withdrawn.
        sleep(UInt32(lease) + 1)
        let late = try runAs("host-b", ["run", pipeline, "--json"], timeout: 60)
        XCTAssertEqual(summary(late)["retracted"] as? Int, 1, "\(summary(late))")
        XCTAssertEqual(files(folder("publish")), [])
        // The frozen host wakes: it withdraws nothing a second time.
        kill(frozen.processIdentifier, SIGCONT)
        XCTAssertTrue(ends(frozen, within: 30), output(of: "host-a"))
        XCTAssertTrue([0, 3].contains(frozen.terminationStatus), output(of: "host-a"))
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind = 'retracted'"), "1")
        XCTAssertEqual(try audit().status, 0)
    }

    func testSweepsOnOneHostNeverWithdrawWhatAnotherHostIsDelivering() throws {
        let count = 200
        let pictures = try consentedPictures(count)
        try writePipeline(settle: 0)
        var inputs: [String: Int] = [:]
        for (index, picture) in pictures.enumerated() {
            try FileManager.default.copyItem(at: picture, to: inbox.appendingPathComponent("pic-\(index).jpg"))
            inputs[try sha(picture), default: 0] += 1
        }
        let runs = try ["host-a", "host-b"].map { try launch(as: $0, ["run", pipeline, "--json"]) }
        var rechecks = 0
        while runs.contains(where: \.isRunning) {
            let recheck = try runAs("host-c", ["quarantine", "recheck", "--pipeline", pipeline], timeout: 120)
            XCTAssertTrue([0, 1].contains(recheck.status), recheck.stderr)
            rechecks += 1
        }
        for run in runs { XCTAssertTrue([0, 1].contains(run.terminationStatus), output(of: "host-a") + output(of: "host-b")) }
        print("quarantine rechecks while two hosts delivered \(count) pictures: \(rechecks)")
        XCTAssertGreaterThan(rechecks, 0)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind = 'retracted'"), "0", "a delivery was withdrawn")
        XCTAssertEqual(files(folder("publish")).count, count)
        try assertInvariants(inputs: inputs)
    }

    /// `/bin/sh -c command`, waited for; its exit status.
    static func shell(_ command: String) -> Int32 {
        var pid: pid_t = 0
        var arguments: [UnsafeMutablePointer<CChar>?] = []
        for argument in ["/bin/sh", "-c", command] { arguments.append(strdup(argument)) }
        arguments.append(nil)
        defer { for argument in arguments { free(argument) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, arguments, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }

    func audit() throws -> Fixtures.Outcome {
        try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline])
    }
}
