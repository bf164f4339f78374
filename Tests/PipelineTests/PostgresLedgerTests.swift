import Foundation
import TestSupport
import XCTest

/// The shared PostgreSQL ledger against a real server (`Scripts/with-postgres Scripts/test`): the pipeline's main
/// outcomes, two hosts on one inbox at once, a host killed with its files in hand, a retraction across hosts, a
/// runtime role that cannot edit history, and a SQLite ledger migrated with its chain intact.
final class PostgresLedgerTests: PostgresTestCase {
    func audit() throws -> Fixtures.Outcome {
        try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline])
    }

    func testPublishQuarantineRetractionAndAuditOnPostgres() throws {
        var inputs: [String: Int] = [:]
        for name in ["demo-phone-photo.jpg", "demo-camera-photo.jpg", "not-a-picture.jpg"] {
            try drop(name, as: "Jane Demo-Doe " + name)
            inputs[MediaFormatsSHA.hex(try Fixtures.sample(name)), default: 0] += 1
        }
        let first = try runPipeline()
        XCTAssertEqual(first.status, 1, "\(first.summary)")
        XCTAssertEqual(first.summary["published"] as? Int, 1, "\(first.summary)")
        XCTAssertEqual(first.summary["quarantined"] as? Int, 2)
        try assertInvariants(inputs: inputs)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind = 'claimed' AND detail LIKE '%\"host\"%'"), "3")
        // A second run changes nothing, and the ledger gains no event.
        let events = try sql("SELECT COUNT(*) FROM events")
        XCTAssertEqual(try runPipeline().status, 0)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events"), events)
        // The revocation retracts it on the next run's sweep.
        try revoke("AUTH-DEMO-0001")
        let swept = try runPipeline()
        XCTAssertEqual(swept.summary["retracted"] as? Int, 1, "\(swept.summary)")
        XCTAssertEqual(files(folder("publish")), [])
        XCTAssertEqual(files(folder("retracted")).count, 1)
        XCTAssertEqual(try audit().status, 0)
        let report = root.appendingPathComponent("audit.json").path
        let made = try Fixtures.run(
            try Fixtures.consentgate, ["audit", "report", "--pipeline", pipeline, "--format", "json", "--out", report])
        XCTAssertEqual(made.status, 0, made.stderr)
        let document =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        XCTAssertEqual(document?["chain_intact"] as? Bool, true)
        XCTAssertTrue((document?["events"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "retracted" })
    }

    /// A file slipped into publish under a live asset's id (`ASSET.copy.jpg` beside the live `ASSET.jpg`) is a
    /// stranger, not a delivery in flight: the sweep withdraws it on the next run.
    func testAFileBorrowingALiveAssetsIdIsAStranger() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 1)
        let published = try XCTUnwrap(files(folder("publish")).first)
        let lookalike = String(published.prefix(32)) + ".copy.jpg"
        try FileManager.default.copyItem(
            at: folder("publish").appendingPathComponent(published), to: folder("publish").appendingPathComponent(lookalike))
        let swept = try runPipeline()
        XCTAssertEqual(swept.summary["retracted"] as? Int, 1, "\(swept.summary)")
        XCTAssertEqual(files(folder("publish")), [published])
    }

    func testTwoHostsOnOneInboxAtOnceLoseAndDoubleNothing() throws {
        try writePipeline(settle: 0, extra: "verify_decode: true")
        var inputs: [String: Int] = [:]
        for round in 0..<2 {
            inputs.merge(try dropMany(30, from: round * 30)) { $0 + $1 }
            let hosts = try ["host-a", "host-b"].map { try startRun(as: $0) }
            for process in hosts { process.waitUntilExit() }
            XCTAssertTrue(
                hosts.allSatisfy { [0, 1].contains($0.terminationStatus) },
                "\(hosts.map(\.terminationStatus)): \(output(of: "host-a")) \(output(of: "host-b"))")
            try assertInvariants(inputs: inputs)
        }
        // Each file was claimed once, by one host, though both looked at every file.
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind = 'claimed'"), "60")
        XCTAssertEqual(try sql("SELECT COUNT(DISTINCT entry) FROM claims"), "60")
        print(
            "claims by host:",
            try sql(
                "SELECT string_agg(host || '=' || n, ' ') FROM (SELECT host, COUNT(*) n FROM claims GROUP BY host) c"))
    }

    func testAKilledHostsFilesAreFinishedByTheOtherAfterTheLease() throws {
        lease = 4
        try writePipeline(settle: 0, extra: "verify_decode: true")
        let inputs = try dropMany(40)
        let doomed = try startRun(as: "host-a")
        // Kill it once it holds files in the work folder.
        let deadline = Date().addingTimeInterval(60)
        while files(work).filter({ !$0.hasPrefix(".") }).isEmpty && doomed.isRunning && Date() < deadline {
            usleep(20_000)
        }
        kill(doomed.processIdentifier, SIGKILL)
        doomed.waitUntilExit()
        let inHand = Set(files(work))
        XCTAssertFalse(inHand.isEmpty, "host-a was not caught with files in hand")
        // At once: host-b leaves host-a's files alone (their lease is alive) and takes what is left in the inbox.
        let early = try runAs("host-b", ["run", pipeline, "--json"])
        XCTAssertTrue([0, 1].contains(early.status), early.stderr)
        let claimedByA = Set(
            try sql("SELECT string_agg(asset, ' ') FROM claims WHERE host = 'host-a'").split(separator: " ").map(
                String.init))
        let stillThere = inHand.filter {
            claimedByA.contains($0) && FileManager.default.fileExists(atPath: work.appendingPathComponent($0).path)
        }
        XCTAssertFalse(stillThere.isEmpty, "host-b took host-a's files before their lease passed")
        // After the lease: host-b recovers them, and everything ends once.
        sleep(UInt32(lease) + 1)
        let late = try runAs("host-b", ["run", pipeline, "--json"])
        XCTAssertTrue([0, 1].contains(late.status), late.stderr)
        try assertInvariants(inputs: inputs)
        XCTAssertEqual(
            try sql(
                "SELECT COUNT(*) FROM claims WHERE host = 'host-a' AND asset IN ('\(stillThere.joined(separator: "','"))')"
            ), "0")
    }

    func testARetractionByOneHostOfWhatTheOtherPublished() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let published = try runAs("host-a", ["run", pipeline, "--json"])
        XCTAssertEqual(summary(published)["published"] as? Int, 1, published.stderr)
        let name = try XCTUnwrap(files(folder("publish")).first)
        try revoke("AUTH-DEMO-0001")
        let swept = try runAs("host-b", ["run", pipeline, "--json"])
        XCTAssertEqual(summary(swept)["retracted"] as? Int, 1, "\(summary(swept))")
        XCTAssertEqual(files(folder("publish")), [])
        let asset = String(name.prefix(32))
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind = 'retracted' AND asset = '\(asset)'"), "1")
        XCTAssertEqual(
            try sql("SELECT detail FROM events WHERE kind = 'claimed' AND asset = '\(asset)'"), #"{"host":"host-a"}"#)
        XCTAssertEqual(try audit().status, 0)
    }

    func testASweepHeldByAnotherHostIsSkippedAndSaidSo() throws {
        // Another host's sweep: its lease on the pipeline's sweep, alive while this run starts.
        try admin(
            "INSERT INTO consentgate.claims (asset, pipeline, entry, host, lease_until) VALUES "
                + "('sweep:test-website', 'test-website', 'sweep:test-website', 'host-z', now() + interval '1 minute')")
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let run = try runPipeline()
        XCTAssertEqual(run.summary["published"] as? Int, 1, "the inbox is worked while another host sweeps")
        let warnings = run.summary["warnings"] as? [String] ?? []
        XCTAssertTrue(warnings.contains { $0.contains("sweep") && $0.contains("another host") }, "\(warnings)")
    }

    func testTheRuntimeRoleCannotEditHistoryAndASuperusersEditIsFound() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        XCTAssertEqual(try runPipeline().status, 1)
        XCTAssertEqual(try audit().status, 0)
        for statement in [
            "UPDATE events SET detail = '{}' WHERE seq = 2", "DELETE FROM events WHERE seq = 2", "TRUNCATE events",
        ] {
            let refused = try psqlRun(user: Self.runtimeRole, statement)
            XCTAssertNotEqual(refused.status, 0, "the runtime role could: \(statement)")
            XCTAssertTrue(refused.stderr.contains("permission denied"), refused.stderr)
        }
        // Even the owner meets the append-only trigger; a superuser who disables it is still found out.
        let trigger = try psqlRun(user: "postgres", "UPDATE events SET detail = '{}' WHERE seq = 2")
        XCTAssertTrue(trigger.stderr.contains("append-only"), trigger.stderr)
        try admin("ALTER TABLE events DISABLE TRIGGER USER")
        try admin("UPDATE events SET detail = replace(detail, 'expired', 'approved') WHERE kind = 'quarantined'")
        XCTAssertEqual(try audit().status, 1, "an edited row")
        try admin("UPDATE events SET detail = replace(detail, 'approved', 'expired') WHERE kind = 'quarantined'")
        XCTAssertEqual(try audit().status, 0)
        try admin("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)")
        let verify = try audit()
        XCTAssertEqual(verify.status, 1, "the newest event deleted")
        XCTAssertTrue(verify.text.contains("missing"), verify.text)
    }

    func testMigrateFromSQLiteKeepsTheChainAndAuditClean() throws {
        let url = runtimeURL
        let postgresDatabase = database
        database = ""
        try writePipeline(settle: 0)  // the SQLite ledger
        database = postgresDatabase
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        XCTAssertEqual(try runPipeline().status, 1)
        let sqliteEvents = try PipelineTestCase.sqliteCount(ledger)
        let migrated = try Fixtures.run(
            try Fixtures.consentgate, ["ledger", "migrate", "--pipeline", pipeline, "--to", url])
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        XCTAssertTrue(migrated.text.contains("ledger: \(url)"), migrated.text)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events"), sqliteEvents)
        XCTAssertEqual(try sql("SELECT seq FROM head"), sqliteEvents)
        try writePipeline(settle: 0)  // now the PostgreSQL ledger
        let verify = try audit()
        XCTAssertEqual(verify.status, 0, verify.text)
        XCTAssertTrue(verify.text.contains("\(sqliteEvents) events"), verify.text)
        // The pipeline goes on where it was: nothing to do, nothing recorded twice; a second migrate is refused.
        XCTAssertEqual(try runPipeline().status, 0)
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM events WHERE kind = 'published'"), "1")
        database = ""
        try writePipeline(settle: 0)
        database = postgresDatabase
        let again = try Fixtures.run(
            try Fixtures.consentgate, ["ledger", "migrate", "--pipeline", pipeline, "--to", url])
        XCTAssertEqual(again.status, 2, again.stderr)
    }

    func testAnUnreachableDatabaseClaimsNothingAndExitsThree() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let closed = "postgresql://\(Self.runtimeRole)@127.0.0.1:1/\(database)?sslmode=disable"
        try writePipeline(settle: 0)
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: runtimeURL, with: closed)
        try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let outcome = try runPipeline()
        XCTAssertEqual(outcome.status, 3, "\(outcome.summary)")
        XCTAssertEqual(files(inbox), ["a.jpg"], "the file waits in the inbox")
        XCTAssertEqual(files(work), [])
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testAPasswordInTheURLIsAConfigurationError() throws {
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: "\(Self.runtimeRole)@", with: "\(Self.runtimeRole):hunter2@")
        try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let outcome = try runPipeline()
        XCTAssertEqual(outcome.status, 2)
        let stderr = outcome.summary["stderr"] as? String ?? ""
        XCTAssertTrue(stderr.contains("ledger") && stderr.contains("password"), stderr)
        XCTAssertFalse(stderr.contains("hunter2"), "the password is repeated: \(stderr)")
    }
}

extension PipelineTestCase {
    /// The number of events in a SQLite ledger.
    static func sqliteCount(_ path: String) throws -> String {
        let script =
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM events').fetchone()[0])"
        return try Fixtures.run("/usr/bin/env", ["python3", "-c", script, path]).text
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
