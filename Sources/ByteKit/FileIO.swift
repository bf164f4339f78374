internal import CSystemShims
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whole-file reads and crash-safe writes (temporary name, fsync, rename), for media and records alike.
public enum FileIO {
    /// For batch processes: glibc by default returns every freed block over 128 KiB to the kernel, so
    /// each file's whole-file buffers cost fresh page faults; this keeps them in the heap for reuse.
    /// Call once at process start.
    public static func keepFreedBuffersForReuse() { cgsys_keep_freed_memory() }

    /// Reads a regular file into memory, refusing anything larger than `limit` bytes.
    public static func readFile(atPath path: String, limit: Int) throws(MediaError) -> [UInt8] {
        let source = try FileSource(path: path)
        guard source.count <= limit else {
            throw .limitExceeded("\(path) is \(source.count) bytes, over the limit of \(limit)")
        }
        return try source.read(0..<source.count)
    }

    /// True when the file at `path` holds exactly `expected`; read through a small buffer, no whole-file copy.
    public static func fileEquals(atPath path: String, _ expected: [UInt8]) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) == expected.count else { return false }
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        var offset = 0
        while offset < expected.count {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, min(chunk, expected.count - offset)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return false }
            let same = buffer.withUnsafeBytes { fresh in
                expected.withUnsafeBytes { memcmp(fresh.baseAddress!, $0.baseAddress! + offset, got) == 0 }
            }
            guard same else { return false }
            offset += got
        }
        return true
    }

    /// A file written under a temporary name in the destination's folder, not yet visible under its final name.
    public struct PendingFile: Sendable {
        /// Where the bytes are now: `.NAME.cg-RANDOM.tmp` in the destination's folder.
        public let temporaryPath: String
        /// Where `commit` puts them.
        public let finalPath: String

        /// Renames the temporary file to its final name and syncs the folder.
        public func commit() throws(MediaError) {
            try rename()
            FileIO.syncFolder(of: finalPath)
        }

        /// Renames the temporary file to its final name without syncing the folder: group commit renames a
        /// batch, then syncs the folder once (`FileIO.syncFolder(of:)`).
        public func rename() throws(MediaError) {
            guard systemRename(temporaryPath, finalPath) == 0 else {
                let why = errnoText()
                unlink(temporaryPath)
                throw .io("cannot rename into \(finalPath): \(why)")
            }
        }

        /// Makes the temporary file's content durable, for a writer that did not sync it: fsync through a fresh
        /// descriptor opened for writing (nothing is written through it), since a network filesystem (SMB) may
        /// refuse, or skip, a flush asked through a read-only handle.
        public func sync() throws(MediaError) {
            let fd = open(temporaryPath, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { throw .io("cannot open \(temporaryPath) to sync it: \(errnoText())") }
            defer { close(fd) }
            try FileIO.sync(fd)
        }

        /// Removes the temporary file.
        public func discard() { unlink(temporaryPath) }
    }

    /// Writes `bytes` to a new temporary file beside `finalPath` and fsyncs it.
    public static func writePending(_ bytes: [UInt8], finalPath: String, mode: mode_t = 0o644) throws(MediaError)
        -> PendingFile
    {
        try pending(finalPath: finalPath, mode: mode) { (fd) throws(MediaError) in
            try writeAll(fd, bytes, bytes.count, at: 0)
        }
    }

    /// Copies a file to a new temporary file beside `finalPath`, by the kernel where it can (no user-space copy:
    /// a video of any size passes through no buffer of ours), lets `edit` write over the copy, and fsyncs it.
    public static func copyPending(
        _ source: FileSource, finalPath: String, mode: mode_t = 0o644,
        edit: (Int32) throws(MediaError) -> Void = { _ in }
    ) throws(MediaError) -> PendingFile {
        try pending(finalPath: finalPath, mode: mode) { (fd) throws(MediaError) in
            try copyContents(of: source, to: fd)
            try edit(fd)
        }
    }

    /// A temporary file beside `finalPath`, filled by `fill` and fsynced; removed again if anything fails.
    static func pending(finalPath: String, mode: mode_t, fill: (Int32) throws(MediaError) -> Void) throws(MediaError)
        -> PendingFile
    {
        let (fd, temporary) = try createTemporary(beside: finalPath, mode: mode)
        do throws(MediaError) {
            try fill(fd)
            try sync(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        return PendingFile(temporaryPath: temporary, finalPath: finalPath)
    }

    /// Writes the first `count` bytes of `bytes` at `offset`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ count: Int, at offset: Int) throws(MediaError) {
        let failure = bytes.withUnsafeBytes { raw -> Int32 in
            var done = 0
            while done < count {
                let wrote = pwrite(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if wrote < 0 && errno == EINTR { continue }
                guard wrote > 0 else { return wrote < 0 ? errno : EIO }
                done += wrote
            }
            return 0
        }
        guard failure == 0 else { throw .io("cannot write: \(String(cString: strerror(failure)))") }
    }

    /// The whole of `source` into `fd`: copy_file_range (reflinks on filesystems that have them), or 1 MiB
    /// reads and writes where the kernel cannot.
    static func copyContents(of source: FileSource, to fd: Int32) throws(MediaError) {
        var inOffset: Int64 = 0
        var outOffset: Int64 = 0
        var kernel = true
        while Int(outOffset) < source.count {
            let want = min(source.count - Int(outOffset), 1 << 30)
            if kernel {
                let copied = cgsys_copy_file_range(source.fd, &inOffset, fd, &outOffset, UInt(want))
                if copied > 0 { continue }
                if copied < 0 && errno == EINTR { continue }
                if copied == 0 || [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, EBADF].contains(errno) {
                    kernel = false
                    continue
                }
                throw .io("cannot copy the file: \(errnoText())")
            }
            let piece = try source.read(Int(outOffset)..<(Int(outOffset) + min(want, 1 << 20)))
            try writeAll(fd, piece, piece.count, at: Int(outOffset))
            outOffset += Int64(piece.count)
            inOffset = outOffset
        }
    }

    /// A new file `.NAME.cg-RANDOM.tmp` beside `finalPath`, open for writing (the pipeline removes such files
    /// left by a kill).
    static func createTemporary(beside finalPath: String, mode: mode_t) throws(MediaError) -> (Int32, String) {
        let folder = parentFolder(of: finalPath)
        let base = finalPath.split(separator: "/").last.map(String.init) ?? "output"
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            temporary = folder + "/." + base + ".cg-" + String(UInt32.random(in: 0...UInt32.max), radix: 16) + ".tmp"
            fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw .io("cannot create a file in \(folder): \(errnoText())") }
        return (fd, temporary)
    }

    static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    /// Syncs the folder that holds `path` (after renames into it). A folder whose sync fails (some network and FUSE
    /// filesystems refuse fsync on a folder) is remembered with why, never passed over in silence: the pipeline
    /// reports it (`takeFolderSyncRefusals`).
    public static func syncFolder(of path: String) {
        let folder = parentFolder(of: path)
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let why = errnoText()
            folderSyncRefusals.withLock { $0[folder] = $0[folder] ?? "cannot open it to sync it: \(why)" }
            return
        }
        defer { close(fd) }
        while fsyncFolder(fd) != 0 {
            if errno == EINTR { continue }
            let why = errnoText()
            folderSyncRefusals.withLock { $0[folder] = $0[folder] ?? why }
            return
        }
    }

    /// fsync of an open folder. Debug builds only: `CONSENTGATE_TEST_REFUSE_FOLDER_SYNC=1` makes it fail with EINVAL,
    /// as some network filesystems do, so that tests can see the refusal reported.
    static func fsyncFolder(_ fd: Int32) -> Int32 {
        if refuseFolderSyncs {
            errno = EINVAL
            return -1
        }
        return fsync(fd)
    }

    static let refuseFolderSyncs: Bool = {
        #if DEBUG
            return getenv("CONSENTGATE_TEST_REFUSE_FOLDER_SYNC").map { String(cString: $0) == "1" } ?? false
        #else
            return false
        #endif
    }()

    /// Folders whose sync failed since the last call, with the first error of each.
    static let folderSyncRefusals = Mutex([String: String]())

    /// Takes (and forgets) the folders whose sync failed since the last call, with why.
    public static func takeFolderSyncRefusals() -> [String: String] {
        folderSyncRefusals.withLock { refusals in
            defer { refusals = [:] }
            return refusals
        }
    }

    /// True when both names reach one file (same device and inode, through any links): writing the second would
    /// destroy the first. False when either does not exist.
    public static func isSameFile(_ a: String, _ b: String) -> Bool {
        var first = stat()
        var second = stat()
        return stat(a, &first) == 0 && stat(b, &second) == 0 && first.st_dev == second.st_dev
            && first.st_ino == second.st_ino
    }

    /// True when something (a file, a folder, a link, even a dangling one) has this name.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// rename(2), under a name that `PendingFile.rename()` does not hide.
private func systemRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
