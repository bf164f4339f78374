import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import Logging
import MediaFormats
import MediaWorker
import Synchronization

/// A run's entry point: the folders held once, then one pass.
extension Runner {
    /// `shouldStop` is asked before each new file is claimed (watch mode's SIGTERM): files in hand are finished.
    /// `secondLook`: when a file is seen for the first time with its size and mtime, wait (at most 120 s) and look
    /// again within this run (the cron job), instead of leaving it for the next run (watch mode passes false).
    /// `inbox: false` (`quarantine recheck`): the sweep, recovery and the pending quarantines only; the inbox is
    /// not looked at.
    public func run(
        dryRun: Bool = false, now: Date = Runner.clock(), secondLook: Bool = false, inbox takeNew: Bool = true,
        shouldStop: @Sendable () -> Bool = { false }
    )
        throws(PipelineError)
        -> RunSummary
    {
        try config.prepare(create: !dryRun)
        // A dry run takes no lock and writes nothing; it only reads the inbox, the records and an existing ledger
        // (and its folders need not exist yet).
        if dryRun {
            return try pass(
                dryRun: true, now: now, secondLook: secondLook, inbox: nil, takeNew: takeNew, shouldStop: shouldStop)
        }
        // Every folder is opened once and used through its descriptor for the whole run (see `hold`).
        var (held, folders) = try config.hold()
        // How each folder's filesystem moves files without replacing anything (issue 31): probed once per run.
        var settle = held.settleSeconds
        var probed = ProbedFolders()
        Runner.probeFolders(held, roles: ["work"], settle: &settle, logger: logger, into: &probed)
        held.settleSeconds = settle
        return try withExtendedLifetime(folders) { () throws(PipelineError) -> RunSummary in
            try Runner(config: held, progress: progress, logger: logger, media: media).pass(
                dryRun: false, now: now, secondLook: secondLook, inbox: folders.inbox, takeNew: takeNew,
                shouldStop: shouldStop, probed: probed)
        }
    }

    func wrap<T>(_ body: () throws(MediaError) -> T) throws(PipelineError) -> T {
        do { return try body() } catch { throw PipelineError("\(error)", exitCode: 3) }
    }
}

extension Runner {
    /// The ledger check every run makes without reading every event (`LedgerStore.quickCheck`). Any problem there
    /// and the run trusts the events alone: the state tables are not read, the whole chain is checked (and its
    /// problems reported) and what is live is replayed from the events, as `audit verify` does.
    func checkLedger(_ ledger: any LedgerStore) throws(PipelineError) -> [String] {
        let problems = try ledger.quickCheck()
        guard !problems.isEmpty else { return [] }
        ledger.distrustState()
        logger.warning("ledger check failed: replaying the events", metadata: ["stage": "ledger"])
        let all = try ledger.verifyChain()
        return all.isEmpty ? problems : all
    }
}
