import Foundation
import TestSupport
import XCTest

@testable import ByteKit

/// The one place that moves a file without replacing anything (issue 31), on the local disk: the checked rename
/// that shares without RENAME_NOREPLACE use, and the probe that decides between the two.
final class NoReplaceMoveTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try Fixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
    func read(_ name: String) -> String? { try? String(contentsOfFile: path(name), encoding: .utf8) }

    func checked(_ from: String, _ to: String) -> (result: Int32, errno: Int32) {
        let result = path(from).withCString { a in
            path(to).withCString { b in FileIO.checkedRename(from: AT_FDCWD, a, to: AT_FDCWD, b, compareInode: true) }
        }
        return (result, errno)
    }

    func testTheCheckedRenameNeverReplacesAnExistingName() throws {
        try write("a", "the file being moved")
        try write("b", "what is already there")
        let taken = checked("a", "b")
        XCTAssertEqual(taken.result, -1)
        XCTAssertEqual(taken.errno, EEXIST)
        XCTAssertEqual(read("b"), "what is already there")
        XCTAssertEqual(read("a"), "the file being moved")
        // Not even a dangling link or a folder under the new name is replaced.
        try FileManager.default.createSymbolicLink(atPath: path("c"), withDestinationPath: path("nowhere"))
        XCTAssertEqual(checked("a", "c").errno, EEXIST)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path("c")), path("nowhere"))
        let free = checked("a", "d")
        XCTAssertEqual(free.result, 0)
        XCTAssertEqual(read("d"), "the file being moved")
        XCTAssertNil(read("a"))
        XCTAssertEqual(checked("a", "e").errno, ENOENT, "a file that is gone is not claimed")
    }

    func testWhatArrivedMustBeWhatLeft() throws {
        try write("a", "one")
        var before = stat()
        XCTAssertEqual(stat(path("a"), &before), 0)
        var same = before
        XCTAssertTrue(FileIO.sameFile(before, same, compareInode: true))
        same.st_size += 1
        XCTAssertFalse(FileIO.sameFile(before, same, compareInode: false), "a different size is another file")
        same = before
        same.st_mtim.tv_nsec += 1
        XCTAssertFalse(FileIO.sameFile(before, same, compareInode: false), "a different mtime is another file")
        same = before
        same.st_ino += 1
        XCTAssertTrue(FileIO.sameFile(before, same, compareInode: false), "inodes unstable: not compared")
        XCTAssertFalse(FileIO.sameFile(before, same, compareInode: true))
    }

    func testTheProbeFindsRenameNoReplaceOnALocalDiskAndLeavesNothing() throws {
        let support = try FileIO.probeMoves(folder: folder.path)
        XCTAssertEqual(support.mode, .noReplace)
        XCTAssertTrue(support.inodeStable)
        XCTAssertLessThan(support.mtimeGranularity, 0.001)
        XCTAssertNil(support.folderSyncRefused)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
        // A probe file a killed run left long ago is removed; a fresh one (another host probing now) is not.
        try write(".probe.cg-old1a.tmp", "")
        try write(".probe.cg-new1a.tmp", "")
        let old = Date().addingTimeInterval(-3600)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path(".probe.cg-old1a.tmp"))
        _ = try FileIO.probeMoves(folder: folder.path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [".probe.cg-new1a.tmp"])
    }
}
