internal import CSystemShims

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writing a new file piece by piece (a rewritten movie): ranges of an input copied by the kernel, bytes written.
extension FileIO {
    /// A new temporary file beside `finalPath`, filled by `fill` from offset 0 and fsynced; removed if anything fails.
    public static func fillPending(
        finalPath: String, mode: mode_t = 0o644, fill: (Int32) throws(MediaError) -> Void
    ) throws(MediaError) -> PendingFile {
        try pending(finalPath: finalPath, mode: mode, fill: fill)
    }

    /// Empties the open file `fd` (a worker's output descriptor) before it is written from offset 0.
    public static func truncate(_ fd: Int32) throws(MediaError) {
        guard ftruncate(fd, 0) == 0 else { throw .io("cannot truncate the output: \(errnoText())") }
    }

    /// Copies `range` of `source` to `fd` at `offset`: by the kernel (copy_file_range) where it can, else through
    /// a 1 MiB buffer.
    public static func copyRange(_ source: FileSource, _ range: Range<Int>, to fd: Int32, at offset: Int)
        throws(MediaError)
    {
        guard range.lowerBound >= 0, range.upperBound <= source.count else {
            throw .io("cannot copy bytes \(range) of a file of \(source.count) bytes")
        }
        var inOffset = Int64(range.lowerBound)
        var outOffset = Int64(offset)
        var kernel = true
        while Int(inOffset) < range.upperBound {
            let want = min(range.upperBound - Int(inOffset), 1 << 30)
            if kernel {
                let copied = cgsys_copy_file_range(source.fd, &inOffset, fd, &outOffset, UInt(want))
                if copied > 0 { continue }
                if copied < 0 && errno == EINTR { continue }
                if copied == 0 || [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, EBADF, EPERM].contains(errno) {
                    kernel = false
                    continue
                }
                throw .io("cannot copy the file: \(errnoText())")
            }
            let start = Int(inOffset)
            let piece = try source.read(start..<(start + min(want, 1 << 20)))
            guard !piece.isEmpty else { throw .io("the file ended before byte \(range.upperBound)") }
            try writeAll(fd, piece, piece.count, at: Int(outOffset))
            inOffset += Int64(piece.count)
            outOffset += Int64(piece.count)
        }
    }
}
