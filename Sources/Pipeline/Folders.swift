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

/// What discovery found in the inbox.
public enum Found: Sendable {
    /// A settled regular file with one link.
    case file(RawPath, relative: [UInt8], size: Int)
    /// Something never to be read: a symlink, hard link, FIFO, device or socket (with why).
    case hostile(RawPath, relative: [UInt8], why: String)
    /// Still changing, skipped this pass.
    case unsettled(RawPath)
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

    /// The same, handing each entry to `visit` as it is found, so nothing accumulates however many files
    /// wait; `visit` returns false to stop the walk.
    static func discover(inbox: String, settle: TimeInterval, now: Date, visit: (Found) throws -> Bool) rethrows {
        _ = try walk(RawPath(inbox), relative: [], depth: 0, settle: settle, now: now, visit: visit)
    }

    /// What one directory entry is, from lstat (never following a link, never opening the file).
    private static func classify(_ path: RawPath, relative: [UInt8], settle: TimeInterval, now: Date) -> Found? {
        var info = stat()
        guard path.withCString({ lstat($0, &info) }) == 0 else {
            return .unreadable(path, why: "cannot stat: \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            return nil
        case S_IFREG:
            if info.st_nlink > 1 {
                return .hostile(
                    path, relative: relative, why: "a hard link (\(info.st_nlink) names for one file): never read")
            }
            let modified = Date(
                timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
            if now.timeIntervalSince(modified) < settle { return .unsettled(path) }
            return .file(path, relative: relative, size: Int(info.st_size))
        case S_IFLNK: return .hostile(path, relative: relative, why: "a symbolic link: never followed")
        case S_IFIFO: return .hostile(path, relative: relative, why: "a FIFO (named pipe): never read")
        case S_IFCHR, S_IFBLK: return .hostile(path, relative: relative, why: "a device file: never read")
        case S_IFSOCK: return .hostile(path, relative: relative, why: "a socket: never read")
        default: return .hostile(path, relative: relative, why: "an unknown kind of file: never read")
        }
    }

    /// Returns false when `visit` asked to stop.
    private static func walk(
        _ folder: RawPath, relative: [UInt8], depth: Int, settle: TimeInterval, now: Date, visit: (Found) throws -> Bool
    ) rethrows -> Bool {
        guard depth <= maxDepth else {
            return try visit(.unreadable(folder, why: "folders nested deeper than \(maxDepth) levels"))
        }
        guard let directory = folder.withCString({ opendir($0) }) else {
            return try visit(.unreadable(folder, why: "cannot open folder: \(String(cString: strerror(errno)))"))
        }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            if !skipped(name) { names.append(name) }
        }
        closedir(directory)
        for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let path = folder.appending(name)
            let rel = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            if let entry = classify(path, relative: rel, settle: settle, now: now) {
                if try !visit(entry) { return false }
            } else if try !walk(path, relative: rel, depth: depth + 1, settle: settle, now: now, visit: visit) {
                return false
            }
        }
        return true
    }

    /// Renames, or where the folders lie on different filesystems copies (temp, fsync, rename) and then
    /// removes the source. A link or special file cannot be copied: that fails with the reason.
    static func move(_ source: RawPath, to destination: String, allowCopy: Bool) throws(PipelineError) {
        let result = source.withCString { from in rename(from, destination) }
        if result == 0 {
            syncFolder(destination)
            return
        }
        guard errno == EXDEV, allowCopy else {
            throw PipelineError("cannot move \(source.display) to \(destination): \(String(cString: strerror(errno)))")
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

    static func syncFolder(_ path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// A new opaque asset id: 128 random bits in hex.
    static func newAssetID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
