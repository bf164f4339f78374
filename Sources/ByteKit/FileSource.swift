#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Random access to a file's bytes without loading it whole (a video may be many gigabytes).
public final class FileSource: Sendable {
    /// The open descriptor (borrowed by callers that hand it to a worker; this source closes it).
    public let fd: Int32
    /// False for a borrowed descriptor (`init(descriptor:)`), which the caller closes.
    let ownsDescriptor: Bool
    /// The file's size in bytes when it was opened.
    public let count: Int
    /// What fstat said right after the file was opened.
    let opened: Snapshot

    /// The size and times that change when anyone writes to the file (or changes its status).
    struct Snapshot: Equatable {
        var size: Int
        var modifiedNanoseconds: Int
        var changedNanoseconds: Int

        init(_ info: stat) {
            size = Int(info.st_size)
            modifiedNanoseconds = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
            changedNanoseconds = Int(info.st_ctim.tv_sec) * 1_000_000_000 + Int(info.st_ctim.tv_nsec)
        }
    }

    /// Opens a regular file, following a symbolic link.
    public convenience init(path: String) throws(MediaError) {
        try self.init(pathBytes: Array(path.utf8))
    }

    /// Opens a regular file; with `followLinks: false` a symbolic link is refused, not followed.
    public init(pathBytes: [UInt8], followLinks: Bool = true) throws(MediaError) {
        let path = String(decoding: pathBytes, as: UTF8.self)  // for messages only
        let flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (followLinks ? 0 : O_NOFOLLOW)
        fd = (pathBytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, flags) }
        }
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        ownsDescriptor = true
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw .io("\(path) is not a regular file")
        }
        count = Int(info.st_size)
        opened = Snapshot(info)
    }

    /// Reads the file open as `descriptor`, with no path at all: how a sandboxed worker reads the files it is
    /// handed (it may neither open nor duplicate descriptors). The descriptor is borrowed: the caller closes it, after
    /// this source is gone. Only a regular file is accepted.
    public init(descriptor: Int32) throws(MediaError) {
        fd = descriptor
        ownsDescriptor = false
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw .io("the descriptor is not a regular file")
        }
        count = Int(info.st_size)
        opened = Snapshot(info)
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// How many names the open file has now (fstat on the descriptor, never on a path).
    public var linkCount: Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_nlink) : 0
    }

    /// Nil when an fstat of the open descriptor shows the size, modification and status-change times it had when
    /// opened; otherwise a sentence saying what changed. (Catches any writer that changes the file in place;
    /// a file replaced by a rename is a different file, and this descriptor still reads the old one.)

    public func changeSinceOpened() -> String? {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return "the file could not be checked for changes: \(String(cString: strerror(errno)))"
        }
        let now = Snapshot(info)
        guard now != opened else { return nil }
        let what =
            now.size != opened.size
            ? "size \(opened.size) -> \(now.size)"
            : now.modifiedNanoseconds != opened.modifiedNanoseconds
                ? "its modification time changed" : "its status changed"
        return "the file changed while it was being processed (\(what))"
    }

    /// Reads `range`, which must lie inside the file.
    public func read(_ range: Range<Int>) throws(MediaError) -> [UInt8] {
        guard range.lowerBound >= 0, range.upperBound <= count else { throw .io("read past the end of the file") }
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            var done = 0
            while done < range.count {
                let got = pread(fd, buffer.baseAddress! + done, range.count - done, off_t(range.lowerBound + done))
                if got < 0 && errno == EINTR { continue }
                if got <= 0 {
                    failure = got < 0 ? errno : EIO
                    break
                }
                done += got
            }
            initialized = done
        }
        guard failure == 0, bytes.count == range.count else {
            throw .io("cannot read the file: \(String(cString: strerror(failure)))")
        }
        return bytes
    }

    /// SHA-256 of the whole file, read in 1 MiB pieces.
    public func sha256() throws(MediaError) -> String {
        var hasher = RangeHasher()
        try hash(0..<count, into: &hasher)
        return hasher.finalize()
    }

    /// Feeds the bytes of `range` to `hasher`, 1 MiB at a time.
    public func hash(_ range: Range<Int>, into hasher: inout RangeHasher) throws(MediaError) {
        var offset = range.lowerBound
        while offset < range.upperBound {
            let piece = try read(offset..<min(range.upperBound, offset + (1 << 20)))
            hasher.update(piece)
            offset += piece.count
        }
    }
}
