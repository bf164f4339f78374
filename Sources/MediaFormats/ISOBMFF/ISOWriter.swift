import ByteKit

/// Writing a sanitizer plan: a kernel copy of the file with the plan written over it.
extension ISOSanitizer {
    /// Copies `source` to a new temporary file beside `finalPath` and writes the plan over it (zero ranges,
    /// then patches). Nothing appears under `finalPath` until the caller verifies and commits.
    static func write(_ plan: Plan, from source: FileSource, to finalPath: String) throws(MediaError)
        -> FileIO.PendingFile
    {
        try FileIO.copyPending(source, finalPath: finalPath) { (fd) throws(MediaError) in try apply(plan, to: fd) }
    }

    /// The same into a file the caller opened (a sandboxed worker's output descriptor).
    static func write(_ plan: Plan, from source: FileSource, into fd: Int32) throws(MediaError) {
        try FileIO.copy(source, into: fd) { (fd) throws(MediaError) in try apply(plan, to: fd) }
    }

    /// Zero ranges, then patches, over a copy of the input.
    static func apply(_ plan: Plan, to fd: Int32) throws(MediaError) {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for range in plan.zeros {
            var at = range.lowerBound
            while at < range.upperBound {
                let count = min(zeros.count, range.upperBound - at)
                try FileIO.writeAll(fd, zeros, count, at: at)
                at += count
            }
        }
        for patch in plan.patches { try FileIO.writeAll(fd, patch.bytes, patch.bytes.count, at: patch.offset) }
    }
}
