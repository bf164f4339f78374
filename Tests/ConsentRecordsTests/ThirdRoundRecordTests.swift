import Foundation
import XCTest

@testable import ConsentRecords

/// The third adversarial round, on records: ids in another letter case never escape a chain or a revocation, and
/// a junk file costs what its size costs.
final class ThirdRoundRecordTests: XCTestCase {
    static let received = RecordLab.date("2026-05-01T09:00:00Z")

    /// AUTH-2 recorded with `supersedes: auth-1` (a typo in case): revoking AUTH-1 revokes AUTH-2 too.
    func testSupersedesInAnotherCaseIsOneChain() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", picture: "demo-camera-photo.jpg"))
        try lab.write(try lab.authorization("AUTH-2", supersedes: "auth-1"))
        XCTAssertTrue(try lab.decide().approved)
        XCTAssertEqual(try lab.registry().newer(than: "AUTH-1"), "AUTH-2")
        try lab.write(Revocation(id: "REV-1", authorization: "AUTH-1", receivedAt: Self.received))
        let decision = try lab.decide()
        XCTAssertFalse(decision.approved)
        XCTAssertTrue(decision.reasons.contains(.revoked(id: "AUTH-2", on: Self.received, by: "REV-1")), "\(decision.reasons)")
    }

    /// With AUTH-1's file tidied away, a revocation naming `auth-1` still revokes its successor AUTH-2, and is no
    /// "revocation of nobody".
    func testRevocationOfAGoneMemberInAnotherCaseRevokesTheChain() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-2", supersedes: "AUTH-1"))
        try lab.write(Revocation(id: "REV-1", authorization: "auth-1", receivedAt: Self.received))
        let registry = try lab.registry()
        XCTAssertEqual(registry.warnings, [])
        XCTAssertFalse(try lab.decide().approved)
    }

    /// A link the ledger remembers joins a chain whose middle member's file is gone: AUTH-3 supersedes AUTH-2,
    /// which superseded AUTH-1; AUTH-2's file is gone; revoking AUTH-1 revokes AUTH-3.
    func testRememberedLinksKeepAChainWhole() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1", picture: "demo-camera-photo.jpg"))
        try lab.write(try lab.authorization("AUTH-3", supersedes: "AUTH-2"))
        try lab.write(Revocation(id: "REV-1", authorization: "AUTH-1", receivedAt: Self.received))
        var registry = try lab.registry()
        let prints = try RecordLab.fingerprints("demo-phone-photo.jpg")
        func decide() -> ConsentDecision {
            ConsentPolicy.decide(
                presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256, channel: "website",
                registry: registry, now: RecordLab.date("2026-06-01T12:00:00Z"))
        }
        XCTAssertTrue(decide().approved, "without the remembered link the chain is cut")
        registry.addRemembered(links: [Registry.Link(id: "auth-2", supersedes: "Auth-1")])
        XCTAssertFalse(decide().approved)
        XCTAssertTrue(decide().reasons.map(\.code).contains("revoked"))
    }

    /// Two authorizations whose ids differ only in letter case are one id twice: the second is invalid.
    func testIdsDifferingOnlyInCaseAreDuplicates() throws {
        let lab = try RecordLab()
        lab.trust("office")
        try lab.write(try lab.authorization("AUTH-1"))
        try lab.write(try lab.authorization("auth-1", picture: "demo-camera-photo.jpg"))
        let registry = try lab.registry()
        XCTAssertEqual(registry.authorizations.count, 1)
        XCTAssertEqual(registry.invalid.count, 1)
        XCTAssertTrue(registry.invalid[0].reason.contains("second record"), registry.invalid[0].reason)
        XCTAssertFalse(try lab.decide().approved, "the duplicate blocks the one it shadows")
    }

    /// SPEC §7: the work spent on a file is bounded by its size. A junk file of `a.a.a.…` (every prefix a
    /// candidate id) is scanned about as fast as plain text of the same size, with ids known. The ratio, not seconds.
    func testLenientScanIsLinearInAHostileWord() {
        let size = 256 << 10
        let hostile = [UInt8](repeating: 0, count: size).enumerated().map {
            $0.offset % 2 == 0 ? UInt8(ascii: "a") : UInt8(ascii: ".")
        }
        let plain = [UInt8]((0..<size).map { UInt8(ascii: "a") + UInt8($0 % 7 == 6 ? 31 : $0 % 26) })
        let known = Dictionary(uniqueKeysWithValues: (0..<2000).map { ("auth-\($0)", "AUTH-\($0)") })
        func time(_ bytes: [UInt8]) -> TimeInterval {
            let start = Date()
            _ = LenientScan(contents: [bytes], names: [], known: known)
            return Date().timeIntervalSince(start)
        }
        _ = time(plain)
        let plainTime = max(time(plain), 0.005)
        let hostileTime = time(hostile)
        XCTAssertLessThan(
            hostileTime / plainTime, 20,
            "a hostile word took \(hostileTime) s, plain text of the same size \(plainTime) s")
    }

    /// The hostile word still blocks what it names, like any other doubt.
    func testAHostileWordStillBlocksWhatItNames() {
        let known = ["auth-5": "AUTH-5"]
        XCTAssertEqual(LenientScan.match("auth-5.a.a.a.a.json", known: known, longest: 6), ["AUTH-5"])
        XCTAssertEqual(LenientScan.match(".auth-5-revoked-20260501.json", known: known, longest: 6), ["AUTH-5"])
        XCTAssertEqual(LenientScan.match("auth-50", known: known, longest: 6), [])
    }
}
