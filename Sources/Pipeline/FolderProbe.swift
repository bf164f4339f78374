import ByteKit
import Foundation
import Logging

/// What the probe of ConsentGate's folders found at the start of a run (issue 31, docs/shares.md).
struct ProbedFolders: Sendable {
    var reports: [RunSummary.FolderReport] = []
    var warnings: [String] = []
    /// The held path of each folder, to name a folder whose sync fails later in the run.
    var roles: [(path: String, role: String)] = []
}

extension Runner {
    /// Probes each of ConsentGate's own folders once (`FileIO.probeMoves`): how files are moved into it without
    /// replacing anything, whether renames keep inode numbers, the modification times' granularity, and whether the
    /// folder can be synced. Raises `settle` to twice the inbox filesystem's granularity (the work folder's: the two
    /// are one filesystem) when it is lower, so that a file still being written is never taken as settled.
    /// The work folder is probed before the pipeline lock is taken (its hidden names are nobody else's business);
    /// the others under the lock (`probeOwnFolders`), where no other run's sweep or clean-up can meet the probe file.
    static func probeFolders(
        _ config: PipelineConfig, roles: [String], settle: inout Double, logger: Logger, into probed: inout ProbedFolders
    ) {
        let paths = [
            "work": config.work, "publish": config.publish, "quarantine": config.quarantine, "archive": config.archive,
            "retracted": config.retracted,
        ]
        for role in roles {
            guard let path = paths[role] else { continue }
            probed.roles.append((path, role))
            let support: FolderSupport
            do throws(MediaError) { support = try FileIO.probeMoves(folder: path) } catch {
                probed.warnings.append(
                    "the \(role) folder could not be probed (\(error)): moves into it use RENAME_NOREPLACE where the "
                        + "filesystem has it and a checked rename where it does not")
                logger.warning("folder probe failed", metadata: ["stage": "probe", "folder": "\(role)"])
                continue
            }
            probed.reports.append(
                RunSummary.FolderReport(
                    folder: role, moves: support.mode.rawValue, inodeStable: support.inodeStable,
                    mtimeGranularitySeconds: support.mtimeGranularity, folderSyncRefused: support.folderSyncRefused))
            logger.info(
                "folder probed",
                metadata: [
                    "stage": "probe", "folder": "\(role)", "moves": "\(support.mode.rawValue)",
                    "inode_stable": "\(support.inodeStable)", "mtime_granularity": "\(support.mtimeGranularity)",
                    "folder_sync": "\(support.folderSyncRefused.map { "refused: \($0)" } ?? "ok")",
                ])
            // A private folder whose mode 0700 the filesystem does not keep (smbnetfs shows 0755 whatever is asked):
            // who may read it is up to the share's server. Said, never passed over.
            var info = stat()
            if role != "publish", stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
                probed.warnings.append(
                    "the \(role) folder shows mode \(String(info.st_mode & 0o777, radix: 8)), not 0700: its filesystem "
                        + "does not keep modes, so who may read it is up to the share's server (docs/shares.md)")
            }
            if let why = support.folderSyncRefused {
                probed.warnings.append(
                    "the \(role) folder cannot be synced (\(why)): a move into it may not survive a power cut "
                        + "(docs/shares.md)")
            }
            if role == "work", settle > 0, settle < 2 * support.mtimeGranularity {
                probed.warnings.append(
                    "settle_seconds (\(settle)) is below twice the inbox filesystem's time granularity "
                        + "(\(support.mtimeGranularity) s): \(2 * support.mtimeGranularity) s used this run")
                settle = 2 * support.mtimeGranularity
            }
        }
    }

    /// ConsentGate's folders other than work, probed under the pipeline lock.
    func probeOwnFolders(into probed: inout ProbedFolders) {
        var settle = config.settleSeconds
        Runner.probeFolders(
            config, roles: ["publish", "quarantine", "archive", "retracted"], settle: &settle, logger: logger,
            into: &probed)
    }

    /// The folders whose sync failed during the run, as warnings naming the folder's role (never a file).
    func folderSyncWarnings(_ probed: ProbedFolders) -> [String] {
        FileIO.takeFolderSyncRefusals().sorted { $0.key < $1.key }.map { folder, why in
            let role = probed.roles.first { folder == $0.path || folder.hasPrefix($0.path + "/") }?.role ?? "a"
            logger.warning("folder sync refused", metadata: ["stage": "deliver", "folder": "\(role)"])
            return "the \(role) folder could not be synced after a move into it (\(why)): that move may not survive "
                + "a power cut (docs/shares.md)"
        }
    }
}
