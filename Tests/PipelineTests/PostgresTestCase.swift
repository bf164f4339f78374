import Foundation
import TestSupport
import XCTest

/// A pipeline whose ledger is a fresh PostgreSQL database on the throwaway server of `Scripts/with-postgres`
/// (`CONSENTGATE_TEST_POSTGRES`, superuser; its password in `PGPASSFILE`), made by `consentgate ledger init` for
/// the runtime role `cg_runtime`. Without that server the tests skip and say how to run them; in CI
/// (`CONSENTGATE_REQUIRE_POSTGRES=1`) they fail instead.
class PostgresTestCase: PipelineTestCase {
    static let runtimeRole = "cg_runtime"
    var port = ""
    var database = ""
    var password = ""
    var psql = "/usr/bin/psql"
    /// Lease for claims (seconds) written into the pipeline.
    var lease = 600

    var adminURL: String { "postgresql://postgres@127.0.0.1:\(port)/\(database)?sslmode=disable" }
    var runtimeURL: String { "postgresql://\(Self.runtimeRole)@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    override func setUpWithError() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let server = environment["CONSENTGATE_TEST_POSTGRES"], !server.isEmpty else {
            let why =
                "no PostgreSQL server: run the suite as `Scripts/with-postgres Scripts/test` to test the shared ledger"
            if environment["CONSENTGATE_REQUIRE_POSTGRES"] == "1" { XCTFail(why) }
            throw XCTSkip(why)
        }
        try super.setUpWithError()
        let components = try XCTUnwrap(URLComponents(string: server))
        port = String(try XCTUnwrap(components.port))
        let passfile = try XCTUnwrap(environment["PGPASSFILE"], "PGPASSFILE (Scripts/with-postgres sets it)")
        password = String(
            try String(contentsOfFile: passfile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                .split(separator: ":").last ?? "")
        if let bin = environment["CONSENTGATE_TEST_POSTGRES_BIN"], FileManager.default.fileExists(atPath: bin + "/psql")
        {
            psql = bin + "/psql"
        }
        database = "cg_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try admin("CREATE DATABASE \(database)", in: "postgres")
        let initialized = try Fixtures.run(
            try Fixtures.consentgate, ["ledger", "init", "--url", adminURL, "--role", Self.runtimeRole])
        XCTAssertEqual(initialized.status, 0, initialized.stderr)
        // The role is the cluster's; it gets the server's throwaway password, which PGPASSFILE holds.
        try admin("ALTER ROLE \(Self.runtimeRole) PASSWORD '\(password)'")
        try writePipeline(settle: 0)
    }

    override func tearDownWithError() throws {
        if !database.isEmpty { _ = try? admin("DROP DATABASE IF EXISTS \(database) WITH (FORCE)", in: "postgres") }
        // A skipped test never made its folders.
        if root != nil { try super.tearDownWithError() }
    }

    /// The base pipeline with the PostgreSQL ledger and the lease in place of the SQLite ledger.
    override func writePipeline(settle: Int, extra: String = "") throws {
        try super.writePipeline(settle: settle, extra: extra)
        guard !database.isEmpty else { return }
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: "ledger: out/ledger.sqlite", with: "ledger: \(runtimeURL)\nclaim_lease_seconds: \(lease)")
        try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
    }

    /// The ledger's tables as the superuser sees them (schema consentgate first on the path).
    override func sql(_ query: String) throws -> String {
        try admin(query).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A statement as the superuser; fails the test when psql does.
    @discardableResult
    func admin(_ query: String, in db: String? = nil) throws -> String {
        let outcome = try psqlRun(user: "postgres", db: db ?? database, query)
        XCTAssertEqual(outcome.status, 0, "\(query): \(outcome.stderr)")
        return outcome.text
    }

    /// A statement as `user`, with the outcome (for statements that must be refused).
    func psqlRun(user: String, db: String? = nil, _ query: String) throws -> Fixtures.Outcome {
        let info = "host=127.0.0.1 port=\(port) user=\(user) dbname=\(db ?? database) options=-csearch_path=consentgate"
        return try Fixtures.run(psql, ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", info, "-c", query])
    }

    /// `consentgate ARGS` as host `host` (CONSENTGATE_HOST_ID).
    func runAs(_ host: String, _ arguments: [String], timeout: TimeInterval = 300) throws -> Fixtures.Outcome {
        try Fixtures.run(
            "/usr/bin/env", ["CONSENTGATE_HOST_ID=" + host, try Fixtures.consentgate] + arguments, timeout: timeout)
    }

    /// `consentgate run PIPELINE --json` started in the background as host `host`.
    func startRun(as host: String) throws -> Process { try launch(as: host, ["run", pipeline, "--json"]) }

    /// The binary started in the background as host `host`, its output appended to `run-HOST.log`.
    func launch(as host: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CONSENTGATE_HOST_ID"] = host
        environment.merge(extra) { $1 }
        process.environment = environment
        let log = root.appendingPathComponent("run-\(host).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }


    /// What the background runs of `host` printed.
    func output(of host: String) -> String {
        (try? String(contentsOf: root.appendingPathComponent("run-\(host).log"), encoding: .utf8)) ?? ""
    }

    func summary(_ outcome: Fixtures.Outcome) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: outcome.stdout)) as? [[String: Any]])?.first ?? [
            "stderr": outcome.stderr
        ]
    }
}
