import ByteKit
import Foundation
import GRDB

/// `ledger backup` and `ledger restore` for the SQLite ledger (SPEC §6): losing the ledger withdraws everything
/// published (nothing in publish can then be shown to be a publication), so it is copied while runs go on and
/// every copy is verified before the command says it is done.
extension Ledger {
    /// Copies the ledger to `destination` through SQLite's online backup (a consistent snapshot while runs append)
    /// and writes the copy's head beside it (`DESTINATION.head`). The copy's chain is verified, and the live head
    /// must be an event of the copy (or newer than it), before this returns the number of events copied. Nothing
    /// that exists is replaced.
    public func backup(to destination: String) throws(PipelineError) -> Int {
        for path in [destination, destination + ".head"] where FileIO.exists(path) {
            throw PipelineError("\(path) exists: a backup never replaces anything (name a new file)", exitCode: 2)
        }
        // A fresh name of our own beside the destination (created here, so nothing of anyone else's is touched).
        let temporary =
            (destination as NSString).deletingLastPathComponent
            + "/.\((destination as NSString).lastPathComponent).cg-\(Folders.newAssetID()).tmp"
        let made = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard made >= 0 else {
            throw PipelineError("cannot write beside \(destination): \(String(cString: strerror(errno)))", exitCode: 3)
        }
        close(made)
        let liveHead = readHead()
        do {
            let copy = try DatabaseQueue(path: temporary)
            try queue.backup(to: copy)
            try copy.close()
        } catch {
            unlink(temporary)
            throw PipelineError("cannot copy the ledger to \(destination): \(error)", exitCode: 3, stage: .ledger)
        }
        chmod(temporary, 0o600)
        let events: [LedgerEvent]
        do {
            let copy = try Ledger(path: temporary, create: false)
            events = try copy.events()
        } catch {
            unlink(temporary)
            throw error
        }
        // The live head was read before the snapshot: the copy holds that event (or newer ones), unless the live
        // ledger lost its newest events, which a backup must not cover up with a head of its own.
        let problems = ChainCheck.problems(events, head: liveHead, headName: "the live ledger's head file")
        guard problems.isEmpty else {
            unlink(temporary)
            throw PipelineError(
                "the ledger's chain is broken; no backup written (run audit verify): "
                    + problems.joined(separator: "; "), exitCode: 1)
        }
        let head = events.last.map { "\($0.seq) \($0.hash)\n" } ?? ""
        do {
            try FileIO.writePending(Array(head.utf8), finalPath: destination + ".head", mode: 0o600).commit()
        } catch {
            unlink(temporary)
            throw PipelineError("cannot write \(destination).head: \(error)", exitCode: 3)
        }
        // Never over anything (a share without hard links or RENAME_NOREPLACE gets the checked rename).
        guard FileIO.moveNoReplace(from: AT_FDCWD, temporary, to: AT_FDCWD, destination) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            unlink(destination + ".head")
            throw PipelineError("cannot put the backup at \(destination): \(why)", exitCode: 3)
        }
        FileIO.syncFolder(of: destination)
        return events.count
    }

    /// Verifies a backup (its chain against its head) and returns its events; throws when it is not a ledger or
    /// its chain is broken.
    static func verifiedBackup(_ backup: String) throws(PipelineError) -> [LedgerEvent] {
        guard FileIO.exists(backup) else { throw PipelineError("no backup at \(backup)", exitCode: 2) }
        guard FileIO.exists(backup + ".head") else {
            throw PipelineError(
                "\(backup).head is missing: a backup without its head cannot show that no events were cut off",
                exitCode: 1)
        }
        let ledger = try Ledger(path: backup, create: false)
        let problems = try ledger.verifyChain()
        guard problems.isEmpty else {
            throw PipelineError("the backup's chain is broken: " + problems.joined(separator: "; "), exitCode: 1)
        }
        return try ledger.events()
    }

    /// Puts a verified backup in place of the ledger at `path`. A ledger that is there is kept, renamed
    /// `PATH.before-restore-TIME` with its head, never removed. Returns the events restored and where the old
    /// ledger went, if there was one.
    public static func restore(from backup: String, to path: String) throws(PipelineError) -> (events: Int, keptAs: String?) {
        let events = try verifiedBackup(backup)
        var keptAs: String? = nil
        // Whatever of a ledger is there (the file, its write-ahead log, its head) is kept aside, never replaced: a
        // stale log left beside the restored file would be applied to it.
        if try Ledger.exists(path) || ["-wal", "-shm", ".head"].contains(where: { FileIO.exists(path + $0) }) {
            let stamp = Ledger.timestamp(Date()).filter { $0.isNumber || $0 == "T" }
            let aside = path + ".before-restore-" + stamp
            // The write-ahead log first (it holds events not yet in the main file), then the file and its head.
            for suffix in ["-wal", "-shm", "", ".head"] where FileIO.exists(path + suffix) {
                guard FileIO.moveNoReplace(from: AT_FDCWD, path + suffix, to: AT_FDCWD, aside + suffix) == 0 else {
                    throw PipelineError(
                        "cannot move the current ledger aside (\(path + suffix)): \(String(cString: strerror(errno)))",
                        exitCode: 3)
                }
            }
            keptAs = aside
        }
        do {
            let source = try FileSource(path: backup)
            try FileIO.copyPending(source, finalPath: path, mode: 0o600).commit()
            let head = try FileSource(path: backup + ".head")
            try FileIO.copyPending(head, finalPath: path + ".head", mode: 0o600).commit()
        } catch { throw PipelineError("cannot copy the backup to \(path): \(error)", exitCode: 3) }
        // The restored ledger must read back as the backup did.
        let restored = try Ledger(path: path, create: false)
        let problems = try restored.verifyChain()
        guard problems.isEmpty, try restored.events().count == events.count else {
            throw PipelineError("the restored ledger does not verify: " + problems.joined(separator: "; "), exitCode: 1)
        }
        return (events.count, keptAs)
    }
}

/// The pipeline-level commands around `Ledger.backup` and `Ledger.restore`.
public enum LedgerMaintenance {
    /// A verified copy of the pipeline's SQLite ledger at `destination` (and `destination.head`).
    public static func backup(_ config: PipelineConfig, to destination: String) throws(PipelineError) -> Int {
        guard config.postgres == nil else {
            throw PipelineError(
                "\(config.file): the ledger is PostgreSQL: back it up with pg_dump (docs/postgresql-ledger.md)")
        }
        if let why = OutputFile.problem(destination, overwrite: false, pipelines: [config]) {
            throw PipelineError("cannot write \(destination): \(why)")
        }
        return try Ledger(path: config.ledger, create: false).backup(to: destination)
    }

    /// Puts a verified backup in place of the pipeline's SQLite ledger, under the pipeline's lock (no run of it may
    /// be going on). The ledger that was there is kept beside it.
    public static func restore(_ config: PipelineConfig, from backup: String) throws(PipelineError)
        -> (events: Int, keptAs: String?)
    {
        guard config.postgres == nil else {
            throw PipelineError("\(config.file): the ledger is PostgreSQL: restore it with pg_restore")
        }
        try config.prepare(create: true)
        let lock = try PipelineLock(folder: config.work, wait: 0)
        defer { lock.release() }
        return try Ledger.restore(from: backup, to: config.ledger)
    }
}
