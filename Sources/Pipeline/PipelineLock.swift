import Foundation

/// One instance at a time per pipeline (cron and a watcher): an exclusive flock on a file in the work folder.
/// The holder writes its process id and start time into the file; a run that cannot take the lock within
/// `wait` seconds gives up with exit 3, saying since when the other run has held it (runs never pile up).
/// With a PostgreSQL ledger each host has its own lock file (`.lock-HOST`): hosts work the same inbox at the same
/// time (their claims in the database keep them apart), while two runs on one host still exclude each other, even
/// where the share passes flock on to the server.
final class PipelineLock: Sendable {
    let fd: Int32
    init(folder: String, wait: TimeInterval, name: String = ".lock") throws(PipelineError) {
        fd = open(folder + "/" + name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw PipelineError("cannot open the pipeline lock in \(folder)", exitCode: 3, stage: .lock) }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw PipelineError("cannot lock the pipeline: \(String(cString: strerror(errno)))", exitCode: 3, stage: .lock)
            }
            if Date() >= deadline {
                var buffer = [UInt8](repeating: 0, count: 256)
                let count = pread(fd, &buffer, buffer.count, 0)
                let holder = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                close(fd)
                throw PipelineError(
                    "another run of this pipeline has held its lock \(holder.isEmpty ? "(holder unknown)" : holder) "
                        + "for longer than \(Int(wait)) s (lock_wait_seconds); not waiting any longer",
                    exitCode: 3, stage: .lock)
            }
            usleep(200_000)
        }
        let note = Array("since \(Ledger.timestamp(Date())) (process \(getpid()))\n".utf8)
        _ = ftruncate(fd, 0)
        _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, note.count, 0) }
    }
    func release() {
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }
}
