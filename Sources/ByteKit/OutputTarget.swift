internal import CSystemShims
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a sanitized copy goes: a new temporary file beside a final path (committed later by a rename), or a file a
/// caller already opened and handed over as a descriptor. The second is how a sandboxed worker writes: it may not
/// open or create files, so the process that moves files creates the temporary file and passes it in.
public enum OutputTarget: Sendable, Equatable {
    case beside(finalPath: String)
    case descriptor(Int32)
}

extension FileIO {
    /// Writes `bytes` as the whole content of the open file `fd` (truncated first). Not synced: the descriptor's
    /// owner, who commits the file, makes it durable first (`sync(_:)`), so that a sandboxed writer never waits on
    /// the disk and a batch of copies can be synced together.
    public static func write(_ bytes: [UInt8], into fd: Int32) throws(MediaError) {
        guard ftruncate(fd, 0) == 0 else { throw .io("cannot truncate the output: \(errnoText())") }
        try writeAll(fd, bytes, bytes.count, at: 0)
    }

    /// Copies `source` as the whole content of the open file `fd` (by the kernel where it can) and lets `edit`
    /// write over the copy. Not synced (see `write(_:into:)`).
    public static func copy(
        _ source: FileSource, into fd: Int32, edit: (Int32) throws(MediaError) -> Void = { _ in }
    ) throws(MediaError) {
        guard ftruncate(fd, 0) == 0 else { throw .io("cannot truncate the output: \(errnoText())") }
        try copyContents(of: source, to: fd)
        try edit(fd)
    }

    /// Starts writing the file's dirty pages to the disk without waiting (sync_file_range): the disk works while
    /// the caller verifies, so the fsync that must still follow finds less to do. Failures are ignored (the fsync
    /// reports them).
    public static func startWriteback(_ fd: Int32) {
        _ = cgsys_start_writeback(fd)
    }

    /// Makes what was written to `fd` durable (fsync): before the file it belongs to is renamed into place.
    public static func sync(_ fd: Int32) throws(MediaError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw .io("cannot fsync the output: \(errnoText())")
        }
    }
}

extension FileIO {
    /// The same open file again, read-only (through /proc/self/fd): what a verifying reader is handed, so that it
    /// cannot write into what it verifies. The caller closes it.
    public static func reopenReadOnly(_ fd: Int32) throws(MediaError) -> Int32 {
        let again = open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC)
        guard again >= 0 else { throw .io("cannot reopen the output read-only: \(errnoText())") }
        return again
    }

    /// A new temporary file beside `finalPath`, open for reading and writing, for someone else to fill (a sandboxed
    /// worker, through the descriptor). The caller closes the descriptor, then commits or discards `pending`.
    public static func openPending(finalPath: String, mode: mode_t = 0o644) throws(MediaError)
        -> (fd: Int32, pending: PendingFile)
    {
        let (fd, temporary) = try createTemporary(beside: finalPath, mode: mode)
        return (fd, PendingFile(temporaryPath: temporary, finalPath: finalPath))
    }
}
