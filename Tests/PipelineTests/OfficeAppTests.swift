import Foundation
import TestSupport
import XCTest

/// `consentgate office` (issue #26) through requests a browser would and would not send: no token, another Host,
/// a form without its CSRF field, the key file; and a whole round through curl: the group picture's second consent
/// with its signed form, shown before signing, written as a minisign-verifiable record with the form in evidence,
/// published by the next run; revoked with its letter, retracted by the next.
final class OfficeAppTests: OfficeAppTestCase {
    func testRequestsWithoutTheTokenFromAnotherHostOrWithoutCSRFAreRefusedAndTheKeyIsNeverServed() throws {
        try startOffice()
        // No token, a wrong token, a wrong cookie.
        XCTAssertEqual(try curl("/").status, 403)
        XCTAssertEqual(try curl("/?token=" + String(repeating: "0", count: 64)).status, 403)
        XCTAssertEqual(try curl("/", ["-H", "Cookie: consentgate_office=nope"]).status, 403)
        XCTAssertEqual(try curl("/records").status, 403)
        // The token: a cookie for this host, the token gone from the address.
        let entry = try curl("/?token=\(token)")
        XCTAssertEqual(entry.status, 303)
        XCTAssertTrue(entry.headers.lowercased().contains("set-cookie: consentgate_office=\(token)"), entry.headers)
        XCTAssertTrue(entry.headers.contains("HttpOnly") && entry.headers.contains("SameSite=Strict"), entry.headers)
        // The redirect stays within the app.
        let away = try curl("//attacker.example/?token=\(token)", ["--path-as-is"])
        XCTAssertEqual(away.status, 303)
        XCTAssertTrue(away.headers.lowercased().contains("location: /\r\n"), away.headers)
        let home = try curl("/", cookie)
        XCTAssertEqual(home.status, 200, home.body)
        XCTAssertTrue(home.body.contains("1 of 2 consented"), home.body)
        // DNS rebinding: the right cookie, but another name in Host.
        let port = String(base.split(separator: ":").last ?? "")
        XCTAssertEqual(try curl("/", cookie + ["-H", "Host: attacker.example:\(port)"]).status, 403)
        XCTAssertEqual(try curl("/", cookie + ["-H", "Host: 127.0.0.1:1"]).status, 403)
        XCTAssertEqual(try curl("/?token=\(token)", ["-H", "Host: attacker.example:\(port)"]).status, 403)
        // A form without this start's CSRF token, or with another, or from another origin.
        let asset = try XCTUnwrap(home.body.range(of: "/authorize?asset=").map {
            String(home.body[$0.upperBound...].prefix(32))
        })
        let fields = ["-F", "asset=\(asset)", "-F", "subject=P-X", "-F", "id=AUTH-X"]
        XCTAssertEqual(try curl("/authorize", cookie + fields).status, 403)
        XCTAssertEqual(try curl("/authorize", cookie + fields + ["-F", "csrf=" + String(repeating: "a", count: 64)]).status, 403)
        let csrf = try XCTUnwrap(csrf(in: try curl("/authorize?asset=\(asset)", cookie).body))
        XCTAssertEqual(
            try curl("/authorize", cookie + fields + ["-F", "csrf=\(csrf)", "-H", "Origin: http://attacker.example"]).status, 403)
        XCTAssertEqual(try curl("/confirm", cookie + ["-d", "draft=x"]).status, 403)
        // The key file: no route serves a file but previews by their exact name.
        let key = try String(contentsOfFile: try demoKey(), encoding: .utf8)
        let secret = try XCTUnwrap(key.split(separator: "\n").last.map(String.init))
        for path in [
            "/demo.key", "/previews/../demo.key", "/previews/%2e%2e/%2e%2e/demo.key", "/previews/../../demo.key",
            "/previews/..%2f..%2fdemo.key", "/\(try demoKey())",
        ] {
            let reply = try curl(path, cookie + ["--path-as-is"])
            XCTAssertEqual(reply.status, 404, path)
            XCTAssertFalse(reply.body.contains(secret), path)
        }
        for page in ["/", "/records", "/live", "/authorize?asset=\(asset)", "/revoke?id=AUTH-DEMO-0004"] {
            XCTAssertFalse(try curl(page, cookie).body.contains(secret), page)
        }
        // Only loopback: the app listens on 127.0.0.1.
        XCTAssertTrue(base.hasPrefix("http://127.0.0.1:"))
    }

    func testTheSecondConsentRecordedInTheAppIsPublishedAndItsRevocationRetractedByTheNextRun() throws {
        try startOffice()
        let home = try curl("/", cookie)
        let asset = try XCTUnwrap(home.body.range(of: "/authorize?asset=").map {
            String(home.body[$0.upperBound...].prefix(32))
        })
        let csrf = try XCTUnwrap(csrf(in: try curl("/authorize?asset=\(asset)", cookie).body))
        let form = root.appendingPathComponent("signed form.pdf")
        try Data("%PDF-1.4\n% second person's signed authorization (DEMO)\n%%EOF\n".utf8).write(to: form)
        let draft = try curl(
            "/authorize",
            cookie + [
                "-F", "csrf=\(csrf)", "-F", "asset=\(asset)", "-F", "id=AUTH-OFFICE-0001", "-F", "subject=P-OFFICE-2",
                "-F", "channels=website", "-F", "people=2", "-F", "effective=2026-01-01", "-F", "expires=2036-01-01",
                "-F", "signed_on=2026-01-01", "-F", "signer=patient", "-F", "form=@\(form.path);type=application/pdf",
            ])
        XCTAssertEqual(draft.status, 200, draft.body)
        // Shown before signing: nothing written yet.
        XCTAssertTrue(draft.body.contains("&quot;id&quot;: &quot;AUTH-OFFICE-0001&quot;"), draft.body)
        XCTAssertTrue(draft.body.contains("2 of 2 consented: the next run publishes"), draft.body)
        XCTAssertFalse(FileManager.default.fileExists(atPath: records.appendingPathComponent("AUTH-OFFICE-0001.json").path))
        let draftID = try XCTUnwrap(draft.body.range(of: "name=\"draft\" value=\"").map {
            String(draft.body[$0.upperBound...].prefix { $0 != "\"" })
        })
        let signed = try curl("/confirm", cookie + ["-d", "csrf=\(csrf)&draft=\(draftID)"])
        XCTAssertEqual(signed.status, 200, signed.body)
        XCTAssertTrue(signed.body.contains("The next run publishes the picture"), signed.body)
        // The same record the CLI writes: minisign verifies it with the demo public key.
        let record = records.appendingPathComponent("AUTH-OFFICE-0001.json").path
        let verified = try Fixtures.run(
            "/usr/bin/minisign",
            ["-V", "-p", Fixtures.sampleMedia.appendingPathComponent("keys/demo-office.DEMO.pub").path, "-m", record])
        XCTAssertEqual(verified.status, 0, verified.output)
        // The signed form is in evidence by its hash, and the record names it.
        let hash = String(try Fixtures.run("/usr/bin/sha256sum", [form.path]).text.prefix(64))
        XCTAssertTrue(FileManager.default.fileExists(atPath: evidence.appendingPathComponent(hash + ".pdf").path))
        XCTAssertTrue(try String(contentsOfFile: record, encoding: .utf8).contains(hash))
        // A draft is signed once.
        XCTAssertEqual(try curl("/confirm", cookie + ["-d", "csrf=\(csrf)&draft=\(draftID)"]).status, 404)

        let published = try runPipeline()
        XCTAssertEqual(published.summary["released"] as? Int, 1, "\(published.summary)")
        XCTAssertTrue(try curl("/live", cookie).body.contains("AUTH-OFFICE-0001"))

        // Revoke in the app, with the letter: the next run retracts.
        let letter = root.appendingPathComponent("letter.pdf")
        try Data("%PDF-1.4\n% I withdraw my consent (DEMO)\n%%EOF\n".utf8).write(to: letter)
        let revocation = try curl(
            "/revoke",
            cookie + [
                "-F", "csrf=\(csrf)", "-F", "authorization=AUTH-OFFICE-0001", "-F",
                "received_at=\(ISO8601DateFormatter().string(from: Date().addingTimeInterval(-60)))",
                "-F", "letter=@\(letter.path)",
            ])
        XCTAssertEqual(revocation.status, 200, revocation.body)
        XCTAssertTrue(revocation.body.contains("The next run retracts every picture published under AUTH-OFFICE-0001"))
        let revokeID = try XCTUnwrap(revocation.body.range(of: "name=\"draft\" value=\"").map {
            String(revocation.body[$0.upperBound...].prefix { $0 != "\"" })
        })
        XCTAssertEqual(try curl("/confirm", cookie + ["-d", "csrf=\(csrf)&draft=\(revokeID)"]).status, 200)
        let retracted = try runPipeline()
        XCTAssertEqual(retracted.summary["retracted"] as? Int, 1, "\(retracted.summary)")
        // Search by subject reference.
        let found = try curl("/records?q=p-office-2", cookie)
        XCTAssertTrue(found.body.contains("AUTH-OFFICE-0001") && found.body.contains("revoked"), found.body)
    }
}
