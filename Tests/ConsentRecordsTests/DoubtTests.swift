import ConsentRecords
import Foundation
import XCTest

/// SPEC §5 "doubt blocks": whatever in the authorizations folder is not a valid record is never silence.
final class DoubtTests: XCTestCase {
    static let revocation = """
        {"type": "consentgate.revocation/v1", "id": "REV-5", "authorization": "AUTH-5", \
        "received_at": "2026-05-01T09:00:00Z", "scope": "all"}
        """

    /// A lab with a valid AUTH-5 for the phone photo, which is publishable until a doubt names it.
    func labWithAuthorization() throws -> (RecordLab, Minisign.SecretKey) {
        let lab = try RecordLab()
        let key = lab.trust("office")
        try lab.write(try lab.authorization("AUTH-5"))
        XCTAssertTrue(try lab.decide().approved)
        return (lab, key)
    }

    func assertBlocked(
        _ lab: RecordLab, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let decision = try lab.decide()
        XCTAssertFalse(decision.approved, "\(what): AUTH-5 is still publishable", file: file, line: line)
        XCTAssertTrue(
            decision.reasons.map(\.code).contains("invalid_record"), "\(what): \(decision.reasons)", file: file,
            line: line)
    }

    /// The reported bug: a revocation that does not parse was ignored, and the revoked picture stayed published.
    func testInvalidRevocationsBlockTheirAuthorization() throws {
        let good = Self.revocation
        let variants: [(String, String, [UInt8], Bool)] = [
            (
                "a day, not an RFC 3339 time", "REV-5.json",
                Array(good.replacingOccurrences(of: "2026-05-01T09:00:00Z", with: "2026-05-01").utf8), true
            ),
            (
                "an unknown field", "REV-5.json",
                Array(good.replacingOccurrences(of: "\"scope\"", with: "\"note\": \"x\", \"scope\"").utf8), true
            ),
            ("no signature", "REV-5.json", Array(good.utf8), false),
            ("trailing garbage", "REV-5.json", Array((good + " }x").utf8), true),
            (
                "duplicate keys", "REV-5.json",
                Array(
                    good.replacingOccurrences(of: "\"scope\"", with: "\"authorization\": \"AUTH-6\", \"scope\"").utf8),
                true
            ),
            (
                "a wrong type for the channels", "REV-5.json",
                Array(good.replacingOccurrences(of: "\"all\"", with: "[1, 2]").utf8), true
            ),
            (
                "an invalid channel name", "REV-5.json",
                Array(good.replacingOccurrences(of: "\"all\"", with: "[\"Web Site\"]").utf8), true
            ),
            (
                "bytes that are not UTF-8", "REV-5.json",
                Array(good.replacingOccurrences(of: "}", with: ", \"recorded_by\": \"").utf8) + [0xC3, 0x28]
                    + Array("\"}".utf8), true
            ),
            ("a file name that is not its id", "REV-6.json", Array(good.utf8), true),
            ("a hidden name", ".AUTH-5-revoked.json", Array(good.utf8), true),
            ("an upper-case extension", "REV-5.JSON", Array(good.utf8), true),
            ("another extension", "x.txt", Array(good.utf8), true),
            ("in a subfolder", "old/REV-5.json", Array(good.utf8), true),
        ]
        for (what, name, bytes, signed) in variants {
            let (lab, key) = try labWithAuthorization()
            try lab.writeRaw(name, bytes, signedBy: signed ? key : nil)
            try assertBlocked(lab, what)
        }
        // Signed by a key nobody trusts.
        let (lab, _) = try labWithAuthorization()
        try lab.writeRaw("REV-5.json", good, signedBy: Minisign.SecretKey.generate())
        try assertBlocked(lab, "a stranger's signature")
    }

    func testOrphanSignatureBlocksTheIdItNames() throws {
        let (lab, key) = try labWithAuthorization()
        try lab.writeRaw(
            "AUTH-5-revoked-20260501T090000Z.json", Self.revocation, signedBy: key,
            comment: "type=consentgate.revocation/v1 id=AUTH-5-revoked-20260501T090000Z")
        try FileManager.default.removeItem(
            at: lab.records.appendingPathComponent("AUTH-5-revoked-20260501T090000Z.json"))
        try assertBlocked(lab, "an orphan .minisig")
    }

    func testEveryBlockingDoubtNamesFileReasonAndBlocks() throws {
        let (lab, key) = try labWithAuthorization()
        try lab.writeRaw(
            "REV-5.json", Self.revocation.replacingOccurrences(of: "2026-05-01T09:00:00Z", with: "2026-05-01"),
            signedBy: key)
        let registry = try lab.registry()
        XCTAssertEqual(registry.invalid.count, 1)
        let bad = try XCTUnwrap(registry.invalid.first)
        XCTAssertEqual(bad.file, "REV-5.json")
        XCTAssertEqual(bad.blocks, ["AUTH-5"])
        XCTAssertFalse(bad.global)
        XCTAssertTrue(bad.reason.contains("received_at"), bad.reason)
        XCTAssertTrue(registry.globalDoubts.isEmpty)
        let decision = try lab.decide()
        XCTAssertEqual(
            decision.reasons, [.blockedByInvalidRecord(id: "AUTH-5", file: "REV-5.json", why: bad.reason)])
        XCTAssertEqual(decision.reasons.map(\.code), ["invalid_record"])
    }

    func testDuplicateKeysBlockEveryNamedAuthorization() throws {
        let lab = try RecordLab()
        let key = lab.trust("office")
        try lab.write(try lab.authorization("AUTH-5"))
        try lab.write(try lab.authorization("AUTH-6", picture: "demo-camera-photo.jpg"))
        try lab.writeRaw(
            "REV-5.json",
            Self.revocation.replacingOccurrences(of: "\"scope\"", with: "\"authorization\": \"AUTH-6\", \"scope\""),
            signedBy: key)
        XCTAssertEqual(try lab.registry().invalid.first?.blocks, ["AUTH-5", "AUTH-6"])
        XCTAssertFalse(try lab.decide("demo-camera-photo.jpg").approved)
    }

    func testWholeTokensOnlyAndLetterCaseIgnored() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-5"))
        try lab.write(try lab.authorization("AUTH-50", picture: "demo-camera-photo.jpg"))
        try lab.writeRaw("notes.txt", "garbage AUTH-50 garbage")
        var registry = try lab.registry()
        XCTAssertEqual(registry.invalid.first?.blocks, ["AUTH-50"], "AUTH-50 is not AUTH-5")
        XCTAssertTrue(try lab.decide().approved, "AUTH-5 is not named")
        XCTAssertFalse(try lab.decide("demo-camera-photo.jpg").approved)
        // A renamed file in other letters, and a name alone (the bytes say nothing).
        try FileManager.default.removeItem(at: lab.records.appendingPathComponent("notes.txt"))
        try lab.writeRaw("auth-5-REVOKED-20260501.JSON", "\u{0}\u{1}")
        registry = try lab.registry()
        XCTAssertEqual(registry.invalid.first?.blocks, ["AUTH-5"])
        XCTAssertFalse(try lab.decide().approved)
        XCTAssertTrue(try lab.decide("demo-camera-photo.jpg").approved)
    }

    func testNamelessDoubtsAreGlobal() throws {
        let (lab, _) = try labWithAuthorization()
        try lab.writeRaw(".DS_Store", [0, 1, 2, 3])
        try lab.writeRaw("scan.txt", "the patient called to say stop")
        let registry = try lab.registry()
        XCTAssertEqual(registry.globalDoubts.map(\.file), [".DS_Store", "scan.txt"])
        // An already published picture stays (the sweep decides as before)...
        XCTAssertTrue(try lab.decide().approved)
        // ...but nothing new is published.
        let prints = try RecordLab.fingerprints("demo-phone-photo.jpg")
        let now = RecordLab.date("2026-06-01T12:00:00Z")
        let decision = ConsentPolicy.decide(
            presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, channel: "website",
            registry: try lab.registry(now: now), now: now, newPublication: true)
        XCTAssertFalse(decision.approved)
        XCTAssertEqual(decision.reasons.map(\.code), ["invalid_record", "invalid_record"])
        XCTAssertTrue(
            decision.reasons.contains(.heldByInvalidRecord(file: "scan.txt", why: registry.invalid[1].reason)))
    }

    func testLinksPipesAndHugeFilesAreNeverReadAndAreGlobal() throws {
        let (lab, _) = try labWithAuthorization()
        // A link to a valid-looking revocation elsewhere: never followed, so its target cannot speak for it.
        let outside = lab.folder.appendingPathComponent("outside.json")
        try Data(Self.revocation.utf8).write(to: outside)
        try FileManager.default.createSymbolicLink(
            at: lab.records.appendingPathComponent("link.json"), withDestinationURL: outside)
        XCTAssertEqual(mkfifo(lab.records.appendingPathComponent("pipe.json").path, 0o600), 0)
        // 10 GB, sparse: reading it would take minutes and memory; it must be refused by its size.
        let huge = lab.records.appendingPathComponent("huge.json").path
        XCTAssertTrue(FileManager.default.createFile(atPath: huge, contents: nil))
        XCTAssertEqual(truncate(huge, 10 << 30), 0)
        let started = Date()
        let registry = try lab.registry()
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        let byFile = Dictionary(uniqueKeysWithValues: registry.invalid.map { ($0.file, $0) })
        XCTAssertEqual(Set(byFile.keys), ["link.json", "pipe.json", "huge.json"])
        XCTAssertTrue(registry.invalid.allSatisfy(\.global), "\(registry.invalid)")
        XCTAssertTrue(byFile["link.json"]?.reason.contains("symbolic link") ?? false)
        XCTAssertTrue(byFile["huge.json"]?.reason.contains("over the limit") ?? false, "\(byFile["huge.json"]!)")
        XCTAssertTrue(byFile["pipe.json"]?.reason.contains("pipe") ?? false, "\(byFile["pipe.json"]!)")
        XCTAssertEqual(registry.authorizations.count, 1)
    }

    func testSubfoldersAreScannedBounded() throws {
        let (lab, key) = try labWithAuthorization()
        try lab.writeRaw("archive/2026/REV-5.json", Self.revocation, signedBy: key)
        try FileManager.default.createDirectory(
            at: lab.records.appendingPathComponent("empty"), withIntermediateDirectories: true)
        let registry = try lab.registry()
        let files = registry.invalid.map(\.file)
        XCTAssertEqual(files, ["archive/2026/REV-5.json", "empty"], "a signature goes with its file")
        XCTAssertEqual(registry.invalid[0].blocks, ["AUTH-5"])
        XCTAssertEqual(registry.globalDoubts.map(\.file), ["empty"])
        try assertBlocked(lab, "a revocation in a subfolder")
        // Deeper than the bound: not scanned, so global.
        try lab.writeRaw("a/b/c/d/e/f/REV-5.json", Self.revocation)
        let deep = try lab.registry().globalDoubts
        XCTAssertTrue(deep.contains { $0.file == "a/b/c/d/e" }, "\(deep)")
    }

    func testNonUTF8NameIsADoubtShownEscaped() throws {
        let (lab, _) = try labWithAuthorization()
        let name = Array("REV-".utf8) + [0xFF, 0xFE] + Array(".json".utf8)
        let path = Array(lab.records.path.utf8) + [0x2F] + name
        let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT | O_EXCL, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let bytes = Array(Self.revocation.utf8)
        XCTAssertEqual(bytes.withUnsafeBytes { write(fd, $0.baseAddress!, bytes.count) }, bytes.count)
        close(fd)
        let registry = try lab.registry()
        XCTAssertEqual(registry.invalid.map(\.displayFile), ["REV-\\xFF\\xFE.json"])
        XCTAssertEqual(registry.invalid.map(\.file), ["REV-\u{FFFD}\u{FFFD}.json"])
        XCTAssertEqual(registry.invalid.map(\.fileBytes), [name])
        XCTAssertEqual(registry.invalid.first?.blocks, ["AUTH-5"])
        try assertBlocked(lab, "a name that is not UTF-8")
    }

    func testRevokingAnyRecordOfAChainRevokesTheChain() throws {
        for revoked in ["AUTH-1", "AUTH-2", "AUTH-3"] {
            let lab = try RecordLab()
            lab.trust("office")
            try lab.write(try lab.authorization("AUTH-1"))
            try lab.write(try lab.authorization("AUTH-2", supersedes: "AUTH-1"))
            try lab.write(try lab.authorization("AUTH-3", picture: "demo-camera-photo.jpg", supersedes: "AUTH-2"))
            XCTAssertTrue(try lab.decide("demo-camera-photo.jpg").approved)
            try lab.write(
                Revocation(id: "REV-1", authorization: revoked, receivedAt: RecordLab.date("2026-05-01T09:00:00Z")))
            for (picture, id) in [("demo-camera-photo.jpg", "AUTH-3"), ("demo-phone-photo.jpg", "AUTH-2")] {
                let decision = try lab.decide(picture)
                XCTAssertFalse(decision.approved, "revoking \(revoked) leaves \(id)")
                XCTAssertTrue(
                    decision.reasons.contains(
                        .revoked(id: id, on: RecordLab.date("2026-05-01T09:00:00Z"), by: "REV-1")),
                    "\(revoked): \(decision.reasons)")
            }
            XCTAssertEqual(try lab.registry().warnings, [])
        }
    }

    func testSupersedesCycleEnds() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", supersedes: "AUTH-2"))
        try lab.write(try lab.authorization("AUTH-2", picture: "demo-camera-photo.jpg", supersedes: "AUTH-1"))
        try lab.write(
            Revocation(id: "REV-1", authorization: "AUTH-1", receivedAt: RecordLab.date("2026-05-01T09:00:00Z")))
        let registry = try lab.registry()
        XCTAssertEqual(registry.chain(of: "AUTH-2"), ["auth-1", "auth-2"])
        XCTAssertTrue(try lab.decide("demo-camera-photo.jpg").reasons.map(\.code).contains("revoked"))
    }

    func testADoubtBlocksTheWholeChain() throws {
        let lab = try RecordLab()
        let key = lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", picture: "demo-camera-photo.jpg"))
        try lab.write(try lab.authorization("AUTH-2", supersedes: "AUTH-1"))
        try lab.writeRaw(
            "REV-1.json",
            Self.revocation.replacingOccurrences(of: "AUTH-5", with: "AUTH-1").replacingOccurrences(
                of: "REV-5", with: "REV-1"
            ).replacingOccurrences(of: "\"all\"", with: "\"everything\""), signedBy: key)
        let decision = try lab.decide()
        XCTAssertFalse(decision.approved)
        XCTAssertTrue(decision.reasons.contains { $0.code == "invalid_record" }, "\(decision.reasons)")
    }

    func testRevocationOfNobodyIsAWarning() throws {
        let (lab, _) = try labWithAuthorization()
        try lab.write(
            Revocation(id: "REV-9", authorization: "AUTH-9", receivedAt: RecordLab.date("2026-05-01T09:00:00Z")))
        let registry = try lab.registry()
        XCTAssertEqual(registry.invalid, [])
        XCTAssertEqual(registry.warnings, ["revocation REV-9 names authorization AUTH-9, which no valid record has"])
        XCTAssertTrue(try lab.decide().approved)
    }

    func testRevocationScopeChannelsAreValidated() throws {
        XCTAssertThrowsError(
            try RecordParser.parse(
                Array(Self.revocation.replacingOccurrences(of: "\"all\"", with: "[\"instagram \"]").utf8)))
        XCTAssertNoThrow(
            try RecordParser.parse(
                Array(Self.revocation.replacingOccurrences(of: "\"all\"", with: "[\"instagram\"]").utf8)))
    }
}
