#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and crash-safe writes (temporary name, fsync, rename).
public enum FileIO {
    /// Reads a regular file into memory, refusing anything larger than `limit` bytes.
    public static func readFile(atPath path: String, limit: Int) throws(MediaError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io("cannot stat \(path): \(errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io("\(path) is not a regular file") }
        let size = Int(info.st_size)
        guard size <= limit else { throw .limitExceeded("\(path) is \(size) bytes, over the limit of \(limit)") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let got = bytes.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress! + done, size - done)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read \(path): \(errnoText())")
            }
            if got == 0 { break }
            done += got
        }
        guard done == size else { throw .io("\(path) changed size while it was read") }
        return bytes
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
        let folder = parentFolder(of: finalPath)
        let base = finalPath.split(separator: "/").last.map(String.init) ?? "output"
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            temporary = folder + "/." + base + ".cg-" + String(UInt32.random(in: 0...UInt32.max), radix: 16) + ".tmp"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw .io("cannot create a file in \(folder): \(errnoText())") }
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
