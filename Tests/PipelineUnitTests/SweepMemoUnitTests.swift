import Foundation
import XCTest

import ConsentRecords
@testable import Pipeline

/// Issue 28's sweep memory read back only as a pass can have written it, the records folder's stat digest only on
/// file systems that keep change times, and the decisions' time limit at the start of tomorrow on days with a clock
/// change at midnight (found in an adversarial review of the memory).
final class SweepMemoUnitTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cg-memo-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testAMemoryNoPassCouldHaveWrittenIsNoMemory() throws {
        let ledger = try Ledger(path: root.appendingPathComponent("l.sqlite").path)
        let now = Date()
        let honest = SweepMemo(
            fingerprint: "f", decidedBefore: now.addingTimeInterval(-2), from: now, until: now.addingTimeInterval(3600),
            folder: "g")
        try honest.write(.sweep, ledger: ledger, pipeline: "p")
        let back = try XCTUnwrap(try SweepMemo.read(.sweep, ledger: ledger, pipeline: "p"))
        XCTAssertEqual(back.fingerprint, honest.fingerprint)
        XCTAssertEqual(back.until.timeIntervalSince1970, honest.until.timeIntervalSince1970, accuracy: 0.001)
        // Decisions said to hold for 75 years (an edited observations row): not a memory.
        var forged = honest
        forged.until = now.addingTimeInterval(75 * 365 * 86400)
        try forged.write(.sweep, ledger: ledger, pipeline: "p")
        XCTAssertNil(try SweepMemo.read(.sweep, ledger: ledger, pipeline: "p"))
        // Publications "decided" that were published after the pass started: not a memory either.
        forged = honest
        forged.decidedBefore = now.addingTimeInterval(86400)
        try forged.write(.sweep, ledger: ledger, pipeline: "p")
        XCTAssertNil(try SweepMemo.read(.sweep, ledger: ledger, pipeline: "p"))
        forged = honest
        forged.until = now.addingTimeInterval(-1)
        try forged.write(.sweep, ledger: ledger, pipeline: "p")
        XCTAssertNil(try SweepMemo.read(.sweep, ledger: ledger, pipeline: "p"))
    }

    func testOnlyFileSystemsThatKeepChangeTimesMayStandForUnreadRecords() throws {
        // The test folder is on a local file system (ext4, XFS, Btrfs, tmpfs or overlayfs on CI machines).
        XCTAssertTrue(LocalFileSystem.changeTimesAreKept(root.path), "\(root.path)")
        XCTAssertFalse(LocalFileSystem.changeTimesAreKept(root.appendingPathComponent("missing").path))
        // procfs (0x9fa0) is none of them, as FUSE (0x65735546), NFS (0x6969) and SMB are not.
        XCTAssertFalse(LocalFileSystem.changeTimesAreKept("/proc"))
        for other in [0x6573_5546, 0x6969, 0xFF53_4D42, 0xFE53_4D42, 0x4D44, 0x2011_BAB0] {
            XCTAssertFalse(LocalFileSystem.keepingChangeTimes.contains(other), String(other, radix: 16))
        }
    }

    func testDecisionsHoldUntilTheStartOfTomorrowOnADayWhoseMidnightIsSkipped() throws {
        // America/Santiago moved its clocks from 00:00 to 01:00 on 2024-09-08: that day starts at 01:00 (04:00Z).
        // A decision made at 12:00 local on 2024-09-08 holds until 2024-09-09 00:00 local (03:00Z), not 01:00.
        let zone = try XCTUnwrap(TimeZone(identifier: "America/Santiago"))
        let registry = Registry.unverifiable(timeZone: zone, because: "a test of the calendar only")
        let now = try XCTUnwrap(ISO8601DateFormatter().date(from: "2024-09-08T16:00:00Z"))
        let until = registry.decisionsHold(from: now)
        XCTAssertEqual(ISO8601DateFormatter().string(from: until), "2024-09-09T03:00:00Z")
    }
}
