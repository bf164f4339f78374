import Foundation
import XCTest

@testable import Pipeline

/// The ledger abstraction without a server: typed queries, batches in one transaction, and the PostgreSQL URL as
/// the YAML gives it (the password never from the YAML).
final class LedgerStoreTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cg-store-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testABatchIsChainedInOrderInOneTransactionAndQueriesAreTyped() throws {
        let ledger: any LedgerStore = try Ledger(path: root.appendingPathComponent("l.sqlite").path)
        try ledger.append(pipeline: "a", kind: .claimed, asset: "x", fileSHA256: nil, contentSHA256: nil, detail: [:])
        let batch = try [
            NewLedgerEvent(
                pipeline: "a", kind: .quarantined, asset: "x", fileSHA256: "f", contentSHA256: "c",
                detail: ["reasons": ["expired"]]),
            NewLedgerEvent(
                pipeline: "b", kind: .recordSeen, asset: nil, fileSHA256: "r", contentSHA256: nil,
                detail: ["revocation": ["id": "R"]]),
        ]
        let stored = try ledger.append(batch: batch)
        XCTAssertEqual(stored.map(\.seq), [2, 3])
        XCTAssertEqual(stored[1].prevHash, stored[0].hash, "chained in the order given")
        XCTAssertEqual(try ledger.verifyChain(), [])
        let all = try ledger.events()
        for query in [
            EventQuery(pipeline: "a"), EventQuery(asset: "x", kinds: [.quarantined]),
            EventQuery(kinds: [.recordSeen], detailContains: "\"revocation\""),
            EventQuery(detailContains: "REVOCATION"),
            EventQuery(pipeline: "b", kinds: [.claimed, .recordSeen]), .all,
        ] {
            XCTAssertEqual(try ledger.events(query), all.filter(query.matches), "\(query)")
        }
        XCTAssertEqual(try ledger.lastEvent(asset: "x", kinds: [.claimed, .quarantined])?.seq, 2)
        XCTAssertEqual(Set(try ledger.recordsFirstSeen().keys), ["r"])
        // A batch whose event cannot be written records none of them.
        let sqlite = try XCTUnwrap(ledger as? Ledger)
        try sqlite.queue.write { db in try db.execute(sql: "CREATE UNIQUE INDEX one_asset_kind ON events(asset, kind)")
        }
        let clash = try [
            NewLedgerEvent(
                pipeline: "a", kind: .published, asset: "y", fileSHA256: nil, contentSHA256: nil, detail: [:]),
            NewLedgerEvent(pipeline: "a", kind: .claimed, asset: "x", fileSHA256: nil, contentSHA256: nil, detail: [:]),
        ]
        XCTAssertThrowsError(try ledger.append(batch: clash))
        XCTAssertEqual(try ledger.events().count, 3, "half a batch was kept")
        XCTAssertEqual(try ledger.verifyChain(), [])
    }

    func testPostgresURLs() throws {
        let plain = try PostgresURL.parse(
            "postgresql://gate@db.example:6543/ledger?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            environment: ["PGPASSWORD": "pw"])
        XCTAssertEqual(plain.user, "gate")
        XCTAssertEqual(plain.host, "db.example")
        XCTAssertEqual(plain.port, 6543)
        XCTAssertEqual(plain.database, "ledger")
        XCTAssertEqual(plain.sslMode, .verifyFull)
        XCTAssertEqual(plain.rootCertificate, "/etc/ca.pem")
        XCTAssertEqual(plain.password, "pw")
        XCTAssertFalse("\(plain)".contains("pw"))
        let socket = try PostgresURL.parse(
            "postgres://gate@%2Frun%2Fpostgresql/ledger?sslmode=disable", environment: [:])
        XCTAssertEqual(socket.socketFolder, "/run/postgresql")
        XCTAssertNil(socket.host)
        XCTAssertEqual(socket.port, 5432)
        let query = try PostgresURL.parse(
            "postgresql://gate@localhost:5433/ledger?host=/var/run/pg&sslmode=disable", environment: [:])
        XCTAssertEqual(query.socketFolder, "/var/run/pg")
        for (bad, words) in [
            ("postgresql://gate:hunter2@db/ledger?sslmode=disable", "password in the URL"),
            ("postgresql://gate@db/ledger", "sslmode"),
            ("postgresql://gate@db/ledger?sslmode=prefer", "sslmode must be"),
            ("postgresql://db/ledger?sslmode=disable", "no user"),
            ("postgresql://gate@db/?sslmode=disable", "no database"),
            ("postgresql://gate@db/ledger?sslmode=disable&user=x", "unknown URL parameter"),
        ] {
            XCTAssertThrowsError(try PostgresURL.parse(bad, environment: [:]), bad) { error in
                let message = (error as? PipelineError)?.message ?? ""
                XCTAssertTrue(message.hasPrefix("ledger: ") && message.contains(words), message)
                XCTAssertFalse(message.contains("hunter2"), message)
            }
        }
    }

    func testThePasswordFileIsReadAsLibpqReadsIt() throws {
        let file = root.appendingPathComponent("pgpass")
        try """
        # comment
        other:5432:*:gate:wrong
        db.example:5432:ledger:gate:pa\\:ss
        *:*:*:*:fallback
        """.write(to: file, atomically: true, encoding: .utf8)
        chmod(file.path, 0o600)
        let environment = ["PGPASSFILE": file.path]
        let url = "postgresql://gate@db.example/ledger?sslmode=require"
        XCTAssertEqual(try PostgresURL.parse(url, environment: environment).password, "pa:ss")
        XCTAssertEqual(
            try PostgresURL.parse("postgresql://x@elsewhere/ledger?sslmode=require", environment: environment).password,
            "fallback")
        XCTAssertEqual(
            try PostgresURL.parse(url, environment: environment.merging(["PGPASSWORD": "env"]) { $1 }).password, "env")
        chmod(file.path, 0o644)
        XCTAssertNil(try PostgresURL.parse(url, environment: environment).password, "a file others may read is ignored")
    }

    func testAPipelineWithAPostgresLedgerHasNoLedgerPlaceAndAHostID() throws {
        let yaml = """
            name: w
            channel: website
            folders: {inbox: in, publish: out/publish, quarantine: out/q, archive: out/a, retracted: out/r}
            authorizations: auth
            trust: trust.yml
            ledger: postgresql://gate@127.0.0.1:5432/ledger?sslmode=disable
            claim_lease_seconds: 30
            """
        let config = try PipelineConfig.parse(
            yaml, path: root.appendingPathComponent("p.yml").path, environment: ["CONSENTGATE_HOST_ID": "gate-a"])
        XCTAssertEqual(config.postgres?.port, 5432)
        XCTAssertEqual(config.hostID, "gate-a")
        XCTAssertEqual(config.claimLeaseSeconds, 30)
        XCTAssertFalse(config.places.contains { $0.key == "ledger" })
        XCTAssertThrowsError(
            try PipelineConfig.parse(
                yaml, path: root.appendingPathComponent("p.yml").path, environment: ["CONSENTGATE_HOST_ID": "a/b"]))
    }
}
