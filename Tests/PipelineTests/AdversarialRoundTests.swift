import ByteKit
import Foundation
import MediaFormats
import TestSupport
import XCTest

/// What an outside attack on the fail-closed pipeline found, each as the script that reproduced it.
final class AdversarialRoundTests: PipelineTestCase {
    func testARevocationOnceSeenStaysInForceWhenItsFileIsDeleted() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 1)
        let name = try revoke("AUTH-DEMO-0001")
        XCTAssertEqual(try runPipeline().summary["retracted"] as? Int, 1)
        for suffix in ["", ".minisig"] { try FileManager.default.removeItem(at: records.appendingPathComponent(name + suffix)) }
        try drop("demo-phone-photo.jpg", as: "again.jpg", trailer: Array("again".utf8))
        let again = try runPipeline()
        XCTAssertEqual(again.summary["published"] as? Int, 0, "a deleted revocation restored consent: \(again.summary)")
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(files(folder("publish")), [])
        // The folder and the ledger disagree: a doubt a person must hear of, on every run, even with nothing to do.
        let quiet = try runPipeline()
        XCTAssertEqual(quiet.status, 1, "\(quiet.summary)")
        XCTAssertFalse((quiet.summary["records_gone"] as? [String] ?? []).isEmpty, "\(quiet.summary)")
        let check = try Fixtures.run(
            try Fixtures.consentgate,
            ["check", Fixtures.sampleMedia.appendingPathComponent("demo-phone-photo.jpg").path, "--pipeline", pipeline])
        XCTAssertEqual(check.status, 1, "check must agree with run: \(check.text)")
    }

    func testARevocationNamingTheIdInAnotherLetterCaseStillBlocks() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().summary["published"] as? Int, 1)
        try revoke("auth-demo-0001")
        let result = try runPipeline()
        XCTAssertEqual(result.summary["retracted"] as? Int, 1, "\(result.summary)")
        XCTAssertEqual(files(folder("publish")), [])
    }

    func testAnInboxThatIsALinkIsNeverFollowed() throws {
        let elsewhere = root.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try Data(try Fixtures.sample("demo-camera-photo.jpg")).write(to: elsewhere.appendingPathComponent("s.jpg"))
        try FileManager.default.removeItem(at: inbox)
        try FileManager.default.createSymbolicLink(at: inbox, withDestinationURL: elsewhere)
        let result = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("symbolic link"), result.stderr)
        XCTAssertEqual(files(elsewhere), ["s.jpg"], "a file was taken through the link")
    }

    func testAFileWithAModificationTimeInTheFutureStillSettles() throws {
        try drop("demo-phone-photo.jpg", as: "future.jpg")
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(86_400 * 365 * 50)],
            ofItemAtPath: inbox.appendingPathComponent("future.jpg").path)
        let result = try runPipeline()
        XCTAssertEqual(result.summary["published"] as? Int, 1, "\(result.summary)")
    }

    func testALedgerURLIsAConfigurationErrorNotAFileName() throws {
        try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
            of: "ledger: out/ledger.sqlite", with: "ledger: postgresql://consentgate@db.example:5432/consentgate"
        ).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("postgresql:").path))
    }

    func testPipelinesRunTogetherMustKeepTheirFoldersApart() throws {
        let second = root.appendingPathComponent("second.yml").path
        try """
            name: second
            channel: instagram
            folders: {inbox: inbox2, publish: out/publish2, quarantine: out/publish, archive: out/a2, retracted: out/r2}
            authorizations: authorizations
            trust: trust.yml
            ledger: out/ledger.sqlite
            settle_seconds: 0
            """.write(toFile: second, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("inbox2"), withIntermediateDirectories: true)
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        let result = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline, second])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("folders.quarantine") && result.stderr.contains("folders.publish"), result.stderr)
        XCTAssertEqual(files(inbox), ["a.jpg"], "nothing moved")
    }

    func testASparseFileIsRefusedWithoutBeingRead() throws {
        let sparse = inbox.appendingPathComponent("x.mp4")
        let header: [UInt8] = [0, 0, 0, 0x18] + Array("ftypisom".utf8) + [0, 0, 2, 0] + Array("isomiso2".utf8)
        try Data(header).write(to: sparse)
        XCTAssertEqual(truncate(sparse.path, 1 << 40), 0, "cannot make a 1 TB sparse file here")
        let started = Date()
        let result = try runPipeline()
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "the holes were read")
        XCTAssertEqual(result.summary["quarantined"] as? Int, 1, "\(result.summary)")
    }

    func testConsentGatesOwnFoldersMustNotBeWritableByOthers() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        XCTAssertEqual(try runPipeline().status, 0)
        // The private folders are made private again on every run.
        chmod(folder("archive").path, 0o777)
        XCTAssertEqual(try runPipeline().status, 0)
        let mode = (try FileManager.default.attributesOfItem(atPath: folder("archive").path)[.posixPermissions] as? NSNumber)?
            .intValue
        XCTAssertEqual(mode, 0o700)
        // A publish folder anyone may write to is refused: a stranger could be placed there between two sweeps.
        chmod(folder("publish").path, 0o777)
        try drop("demo-phone-photo.jpg", as: "b.jpg", trailer: Array("b".utf8))
        let result = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("folders.publish"), result.stderr)
    }

    func testATrustFileOthersCouldReplaceIsRefused() throws {
        try drop("demo-phone-photo.jpg", as: "a.jpg")
        // Owned by another user.
        XCTAssertEqual(chown(root.appendingPathComponent("trust.yml").path, 1000, 1000), 0)
        let foreign = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertEqual(foreign.status, 2, foreign.stderr)
        // The run does not stop (its sweep runs; see ThirdRoundTests): it says why no record can be verified.
        XCTAssertTrue(foreign.text.contains("belongs to user 1000"), foreign.output)
        XCTAssertEqual(chown(root.appendingPathComponent("trust.yml").path, 0, 0), 0)
        // In a folder others may write to (without the sticky bit).
        chmod(root.path, 0o777)
        defer { chmod(root.path, 0o755) }
        let open = try Fixtures.run(try Fixtures.consentgate, ["run", pipeline])
        XCTAssertEqual(open.status, 2, open.stderr)
        XCTAssertTrue(open.text.contains("folder may be written"), open.output)
        XCTAssertEqual(files(inbox), ["a.jpg"], "nothing moved")
    }
}
