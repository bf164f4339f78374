import ByteKit
import Foundation
import MediaFormats

/// A path kept as raw bytes: file names on a share need not be valid UTF-8, and a repaired name would
/// point at nothing.
public struct RawPath: Sendable, Hashable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }

    public func appending(_ name: [UInt8]) -> RawPath { RawPath(bytes + [UInt8(ascii: "/")] + name) }
    /// For messages only.
    public var display: String { String(decoding: bytes, as: UTF8.self) }

    func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

/// An open folder. Discovery and the claim work relative to it (`openat`, `fstatat`, `renameat`), so a folder
/// swapped for a link between the listing and the claim cannot redirect anything: the descriptor still names the
/// folder that was listed.
public final class Directory: Sendable {
    public let fd: Int32

    /// Opens `name` inside `parent` (or a path, with `parent` nil) as a folder, never through a link (with
    /// `followLinks`, links in the path are followed; where the folder really is is then `location`).
    init?(_ name: [UInt8], in parent: Directory?, followLinks: Bool = false) {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followLinks ? 0 : O_NOFOLLOW)
        let fd = (name + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { openat(parent?.fd ?? AT_FDCWD, $0.baseAddress!, flags) }
        }
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Where the open folder is now (the kernel's name for it), or nil where /proc is not mounted.
    var location: String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in it, as raw bytes, without "." and "..".
    func names() -> [[UInt8]]? {
        // A fresh open of the same folder ("." relative to it), not a dup: a FUSE share (smbnetfs) answers a rewound
        // descriptor with what it listed before, so a second look in the same run would miss every new file.
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0, let directory = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return nil
        }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        return names.sorted(by: Directory.precedes)
    }

    /// Byte order (what `lexicographicallyPrecedes` gives, and SQLite's for UTF-8 text) by `memcmp`: the generic
    /// comparison was most of the cost of sorting a listing of 100,000 names (issue 28).
    static func precedes(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        let common = min(left.count, right.count)
        let order = left.withUnsafeBufferPointer { l in
            right.withUnsafeBufferPointer { r in common == 0 ? 0 : memcmp(l.baseAddress!, r.baseAddress!, common) }
        }
        return order != 0 ? order < 0 : left.count < right.count
    }
}

/// An entry as discovery saw it: a name inside an open folder.
public struct Place: Sendable {
    public let folder: Directory
    public let name: [UInt8]

    func withName<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (name + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

/// What discovery found in the inbox.
public enum Found: Sendable {
    /// A regular file with one link whose mtime is at least `settle` old; `stamp` is its size, mtime and inode,
    /// which must also be the same at two looks `settle` apart before it is taken (the runner keeps the looks).
    case file(RawPath, relative: [UInt8], size: Int, stamp: String, place: Place)
    /// Something never to be read: a symlink, hard link, FIFO, device or socket (with why).
    case hostile(RawPath, relative: [UInt8], why: String, place: Place)
    /// Modified less than `settle` ago: not taken at this look. Its `stamp` (as for `.file`) lets the run note the
    /// first look, so that a second look `settle` later, in the same run (SPEC §2) or the next, can take it.
    case unsettled(RawPath, relative: [UInt8], stamp: String)
    /// Could not be examined (with why).
    case unreadable(RawPath, why: String)
}

enum Folders {
    static let maxDepth = 32

    /// Names discovery passes over: hidden files, partial uploads, Office lock files, Windows thumbnails.
    static func skipped(_ name: [UInt8]) -> Bool {
        if name.first == UInt8(ascii: ".") { return true }
        let text = String(decoding: name, as: UTF8.self)
        return text.hasSuffix(".part") || text.hasSuffix(".tmp") || text.hasPrefix("~$") || text == "Thumbs.db"
    }

    /// Walks the inbox without following any link. `settle`: a file must be unchanged this long.
    static func discover(inbox: String, settle: TimeInterval, now: Date) -> [Found] {
        var found: [Found] = []
        discover(inbox: inbox, settle: settle, now: now) { entry in
            found.append(entry)
            return true
        }
        return found
    }

    /// The same, handing each entry to `visit` as it is found (while its folder is open, so that a claim made in
    /// `visit` works on the folder that was listed), so nothing accumulates however many files wait; `visit`
    /// returns false to stop the walk. The inbox itself must not be a link.
    static func discover(inbox: String, settle: TimeInterval, now: Date, visit: (Found) throws -> Bool) rethrows {
        guard let root = Directory(Array(inbox.utf8), in: nil) else {
            let why = errno == ELOOP || errno == ENOTDIR ? "the inbox is a link or not a folder" : String(cString: strerror(errno))
            _ = try visit(.unreadable(RawPath(inbox), why: "cannot open the inbox: \(why)"))
            return
        }
        try discover(root, path: inbox, settle: settle, now: now, visit: visit)
    }

    /// The same, from an inbox already open (the run's held folder).
    static func discover(
        _ root: Directory, path: String, settle: TimeInterval, now: Date, visit: (Found) throws -> Bool
    ) rethrows {
        _ = try walk(root, path: RawPath(path), relative: [], depth: 0, settle: settle, now: now, visit: visit)
    }

    /// What one directory entry is, from fstatat on the open folder (never following a link, never opening the
    /// file); nil for a folder.
    private static func classify(
        _ place: Place, path: RawPath, relative: [UInt8], settle: TimeInterval, now: Date
    ) -> Found? {
        var info = stat()
        guard place.withName({ fstatat(place.folder.fd, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            return .unreadable(path, why: "cannot stat: \(String(cString: strerror(errno)))")
        }
        func hostile(_ why: String) -> Found { .hostile(path, relative: relative, why: why, place: place) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            return nil
        case S_IFREG:
            if info.st_nlink > 1 { return hostile("a hard link (\(info.st_nlink) names for one file): never read") }
            let modified = Date(
                timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
            // A modification time in the future says nothing about settling: the two looks decide alone.
            let stamp = "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_ino)"
            if modified <= now && now.timeIntervalSince(modified) < settle {
                return .unsettled(path, relative: relative, stamp: stamp)
            }
            return .file(path, relative: relative, size: Int(info.st_size), stamp: stamp, place: place)
        case S_IFLNK: return hostile("a symbolic link: never followed")
        case S_IFIFO: return hostile("a FIFO (named pipe): never read")
        case S_IFCHR, S_IFBLK: return hostile("a device file: never read")
        case S_IFSOCK: return hostile("a socket: never read")
        default: return hostile("an unknown kind of file: never read")
        }
    }

    /// Returns false when `visit` asked to stop.
    private static func walk(
        _ folder: Directory, path: RawPath, relative: [UInt8], depth: Int, settle: TimeInterval, now: Date,
        visit: (Found) throws -> Bool
    ) rethrows -> Bool {
        guard depth <= maxDepth else {
            return try visit(.unreadable(path, why: "folders nested deeper than \(maxDepth) levels"))
        }
        guard let names = folder.names() else {
            return try visit(.unreadable(path, why: "cannot list folder: \(String(cString: strerror(errno)))"))
        }
        for name in names where !skipped(name) {
            let place = Place(folder: folder, name: name)
            let childPath = path.appending(name)
            let rel = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            if let entry = classify(place, path: childPath, relative: rel, settle: settle, now: now) {
                if try !visit(entry) { return false }
                continue
            }
            // A folder: opened relative to this one, never through a link (a folder swapped for a link since the
            // listing is not entered).
            guard let child = Directory(name, in: folder) else {
                if errno == ELOOP || errno == ENOTDIR {
                    // It became a link or a file since fstatat: look at it again as what it is now.
                    if let entry = classify(place, path: childPath, relative: rel, settle: settle, now: now) {
                        if try !visit(entry) { return false }
                    }
                    continue
                }
                if try !visit(.unreadable(childPath, why: "cannot open folder: \(String(cString: strerror(errno)))")) {
                    return false
                }
                continue
            }
            if try !walk(child, path: childPath, relative: rel, depth: depth + 1, settle: settle, now: now, visit: visit) {
                return false
            }
        }
        return true
    }

    /// Moves an entry found by discovery (never followed) into ConsentGate's folder, never over anything there.
    static func move(_ place: Place, to destination: String) throws(PipelineError) {
        let result = place.withName { from in
            destination.withCString { FileIO.moveNoReplace(from: place.folder.fd, from, to: AT_FDCWD, $0) }
        }
        guard result == 0 else {
            throw PipelineError("cannot move it to \(destination): \(String(cString: strerror(errno)))", exitCode: 3)
        }
        syncFolder(destination)
    }

    /// Renames, or where the folders lie on different filesystems copies (temp, fsync, rename) and then
    /// removes the source. A link or special file cannot be copied: that fails with the reason. An existing
    /// destination is never replaced (an original in the archive or quarantine is kept whatever comes later),
    /// except by the same bytes, left there by a copy that a kill interrupted before the source was removed.
    /// `syncFolder: false` leaves the rename's folder sync to the caller (group commit syncs it once per batch).
    static func move(_ source: RawPath, to destination: String, allowCopy: Bool, syncFolder sync: Bool = true)
        throws(PipelineError)
    {
        let result = source.withCString { from in
            destination.withCString { FileIO.moveNoReplace(from: AT_FDCWD, from, to: AT_FDCWD, $0) }
        }
        if result == 0 {
            if sync { syncFolder(destination) }
            return
        }
        let failure = errno
        if failure == EEXIST {
            if sameBytes(source, destination) {
                _ = source.withCString { unlink($0) }
                return
            }
            throw PipelineError("cannot move \(source.display) to \(destination): something else is already there")
        }
        guard failure == EXDEV, allowCopy else {
            throw PipelineError("cannot move \(source.display) to \(destination): \(String(cString: strerror(failure)))")
        }
        guard !FileIO.exists(destination) else {
            if sameBytes(source, destination) {
                _ = source.withCString { unlink($0) }
                return
            }
            throw PipelineError("cannot move \(source.display) to \(destination): something else is already there")
        }
        var info = stat()
        guard source.withCString({ lstat($0, &info) }) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw PipelineError("cannot move \(source.display) across filesystems: not a regular file")
        }
        do {
            // Streamed by the kernel (a video may be gigabytes), from the raw name (it need not be UTF-8).
            let file = try FileSource(pathBytes: source.bytes, followLinks: false)
            try FileIO.copyPending(file, finalPath: destination, mode: 0o600).commit()
        } catch { throw PipelineError("cannot copy \(source.display) to \(destination): \(error)") }
        _ = source.withCString { unlink($0) }
    }

    /// True when both are regular files with the same bytes (compared by SHA-256, read in pieces).
    static func sameBytes(_ a: RawPath, _ b: String) -> Bool {
        guard let first = try? FileSource(pathBytes: a.bytes, followLinks: false),
            let second = try? FileSource(pathBytes: Array(b.utf8), followLinks: false), first.count == second.count,
            let one = try? first.sha256(), let two = try? second.sha256()
        else { return false }
        return one == two
    }

    /// Syncs the folder holding `path`; a refusal is remembered and reported by the run (`FileIO.syncFolder`).
    static func syncFolder(_ path: String) { FileIO.syncFolder(of: path) }

    /// The names in a folder, as raw bytes (a name need not be UTF-8), without "." and "..". Nil when the
    /// folder cannot be read (a missing folder has no names).
    static func rawEntries(of folder: String) -> [[UInt8]]? {
        guard let directory = Directory(Array(folder.utf8), in: nil, followLinks: true) else {
            return errno == ENOENT ? [] : nil
        }
        return directory.names()
    }

    /// Whether `names`, sorted as `Directory.names` sorts them (by bytes), holds `name`: a binary search.
    static func sortedNames(_ names: [[UInt8]], contain name: [UInt8]) -> Bool {
        var low = 0, high = names.count
        while low < high {
            let middle = (low + high) / 2
            if Directory.precedes(names[middle], name) { low = middle + 1 } else { high = middle }
        }
        return low < names.count && names[low] == name
    }

    /// The same, for ConsentGate's own folders, whose names it chose (UTF-8).
    static func entries(of folder: String) -> [String] {
        (rawEntries(of: folder) ?? []).map { String(decoding: $0, as: UTF8.self) }
    }

    /// One of ConsentGate's asset folders (quarantine, archive) listed once: each asset's original (`ASSET.EXT`)
    /// and the assets with a reason file (`ASSET.reason.json`), so that pairing them costs one listing and a
    /// dictionary, however many files the folder holds. A folder that cannot be listed (other than missing) is an
    /// error that names it, never an empty folder.
    struct AssetListing {
        var originals: [String: String] = [:]
        var reasonFiles: [String] = []

        init(names: [String]) {
            for name in names where !name.hasPrefix(".") {
                if name.hasSuffix(".reason.json") {
                    reasonFiles.append(String(name.dropLast(".reason.json".count)))
                } else if let dot = name.firstIndex(of: ".") {
                    originals[String(name[..<dot])] = name
                }
            }
            reasonFiles.sort()
        }
    }

    static func assetListing(of folder: String, shownAs key: String) throws(PipelineError) -> AssetListing {
        guard let names = rawEntries(of: folder) else {
            throw PipelineError(
                "cannot list the \(key) folder \(folder): \(String(cString: strerror(errno))) (run this as the "
                    + "account that runs the pipeline)", exitCode: 2)
        }
        return AssetListing(names: names.map { String(decoding: $0, as: UTF8.self) })
    }

    /// A new opaque asset id: 128 random bits in hex.
    static func newAssetID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
