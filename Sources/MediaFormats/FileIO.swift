internal import CMediaShims

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whole-file reads and crash-safe writes (temporary name, fsync, rename).
public enum FileIO {
    /// For batch processes: glibc by default returns every freed block over 128 KiB to the kernel, so
    /// each file's whole-file buffers cost fresh page faults; this keeps them in the heap for reuse.
    /// Call once at process start.
    public static func keepFreedBuffersForReuse() { cgshim_keep_freed_memory() }

    /// Reads a regular file into memory, refusing anything larger than `limit` bytes.
    public static func readFile(atPath path: String, limit: Int) throws(MediaError) -> [UInt8] {
        try readFile(atPathBytes: Array(path.utf8), limit: limit)
    }

    /// The same for a path given as raw bytes (file names on a share need not be valid UTF-8). With
    /// `followLinks: false` a symbolic link is refused, not followed (the pipeline's reads).
    public static func readFile(atPathBytes pathBytes: [UInt8], limit: Int, followLinks: Bool = true) throws(MediaError)
        -> [UInt8]
    {
        let path = String(decoding: pathBytes, as: UTF8.self)  // for messages only
        let flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (followLinks ? 0 : O_NOFOLLOW)
        let fd = (pathBytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, flags) }
        }
        guard fd >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io("cannot stat \(path): \(errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io("\(path) is not a regular file") }
        let size = Int(info.st_size)
        guard size <= limit else { throw .limitExceeded("\(path) is \(size) bytes, over the limit of \(limit)") }
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let got = read(fd, buffer.baseAddress! + done, size - done)
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if got == 0 { break }
                done += got
            }
            initialized = done
        }
        guard failure == 0 else { throw .io("cannot read \(path): \(String(cString: strerror(failure)))") }
        guard bytes.count == size else { throw .io("\(path) changed size while it was read") }
        return bytes
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
        public let temporaryPath: String
        public let finalPath: String

        /// Renames the temporary file to its final name and syncs the folder.
        public func commit() throws(MediaError) {
            guard rename(temporaryPath, finalPath) == 0 else {
                let why = errnoText()
                unlink(temporaryPath)
                throw .io("cannot rename into \(finalPath): \(why)")
            }
            FileIO.syncFolder(of: finalPath)
        }

        /// Removes the temporary file.
        public func discard() { unlink(temporaryPath) }
    }

    /// Writes `bytes` to a new temporary file beside `finalPath` and fsyncs it.
    public static func writePending(_ bytes: [UInt8], finalPath: String, mode: mode_t = 0o644) throws(MediaError)
        -> PendingFile
    {
        let (fd, temporary) = try createTemporary(beside: finalPath, mode: mode)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + written, bytes.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let why = errnoText()
                close(fd)
                unlink(temporary)
                throw .io("cannot write \(temporary): \(why)")
            }
            written += result
        }
        guard fsync(fd) == 0 else {
            let why = errnoText()
            close(fd)
            unlink(temporary)
            throw .io("cannot fsync \(temporary): \(why)")
        }
        close(fd)
        return PendingFile(temporaryPath: temporary, finalPath: finalPath)
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

    static func syncFolder(of path: String) {
        let fd = open(parentFolder(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
