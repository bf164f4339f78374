import Foundation

/// inotify on an inbox and its subfolders. inotify does not see writes other hosts make on SMB/NFS
/// shares, so the watcher also rescans every `rescan_seconds`; this only makes local drops prompt.
public final class InboxWatch: @unchecked Sendable {
    // @unchecked Sendable: `fd` is immutable after init, and `watched` is touched only by `addWatches`,
    // which the watch loop calls from one thread between passes.
    public let fd: Int32
    private var watched = Set<String>()

    public init() throws(PipelineError) {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw PipelineError("inotify is not available: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Watches the inbox and every (non-hidden) folder below it; new folders are picked up on each call.
    public func addWatches(inbox: String) {
        var folders = [inbox]
        while let folder = folders.popLast() {
            let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
            if !watched.contains(folder), inotify_add_watch(fd, folder, mask) >= 0 { watched.insert(folder) }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where !name.hasPrefix(".")
            {
                var info = stat()
                let path = folder + "/" + name
                if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { folders.append(path) }
            }
        }
    }

    /// Reads and discards pending events; true when there were any.
    public func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var any = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count <= 0 { return any }
            any = true
        }
    }
}
