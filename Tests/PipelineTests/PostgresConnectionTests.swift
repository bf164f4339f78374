import Foundation
import TestSupport
import XCTest

/// The ways to reach the shared ledger (`Scripts/with-postgres` serves all of them): TLS that checks the server's
/// certificate, TLS that does not, and the unix socket; and a certificate nobody vouches for is refused.
final class PostgresConnectionTests: PostgresTestCase {
    func useLedger(_ url: String) throws {
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(of: runtimeURL, with: url)
        try yaml.write(toFile: pipeline, atomically: true, encoding: .utf8)
    }

    func testTLSThatChecksTheCertificateAndTLSThatDoesNot() throws {
        let ca = try XCTUnwrap(
            ProcessInfo.processInfo.environment["CONSENTGATE_TEST_POSTGRES_CA"], "with-postgres serves TLS with openssl")
        let base = runtimeURL.replacingOccurrences(of: "?sslmode=disable", with: "")
        try useLedger(base + "?sslmode=verify-full&sslrootcert=" + ca)
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let checked = try runPipeline()
        XCTAssertEqual(checked.summary["published"] as? Int, 1, "\(checked.summary)")
        try writePipeline(settle: 0)
        try useLedger(base + "?sslmode=require")
        XCTAssertEqual(try runPipeline().status, 0)
        // The system's roots do not vouch for the throwaway certificate: refused, nothing claimed.
        try writePipeline(settle: 0)
        try useLedger(base + "?sslmode=verify-full")
        try drop("demo-camera-photo.jpg", as: "b.jpg")
        let refused = try runPipeline()
        XCTAssertEqual(refused.status, 3, "\(refused.summary)")
        XCTAssertTrue((refused.summary["stderr"] as? String ?? "").contains("cannot connect"), "\(refused.summary)")
        XCTAssertEqual(files(inbox), ["b.jpg"])
    }

    func testAUnixSocketFolderAsTheHost() throws {
        let folder = try XCTUnwrap(ProcessInfo.processInfo.environment["CONSENTGATE_TEST_POSTGRES_SOCKET"])
        let encoded = try XCTUnwrap(folder.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        try useLedger("postgresql://\(Self.runtimeRole)@\(encoded):\(port)/\(database)?sslmode=disable")
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let run = try runPipeline()
        XCTAssertEqual(run.summary["published"] as? Int, 1, "\(run.summary)")
        try writePipeline(settle: 0)
        try useLedger("postgresql://\(Self.runtimeRole)@localhost:\(port)/\(database)?host=\(folder)&sslmode=disable")
        let verify = try Fixtures.run(try Fixtures.consentgate, ["audit", "verify", "--pipeline", pipeline])
        XCTAssertEqual(verify.status, 0, verify.stderr)
    }
}
