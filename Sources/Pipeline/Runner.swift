import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import Logging
import MediaFormats
import MediaWorker
import Synchronization

/// One pass over a pipeline: recover what a crashed run left claimed, discover, claim, inspect, verify
/// consent, sanitize, deliver; then sweep what is published against today's records.
public final class Runner: Sendable {
    public let config: PipelineConfig
    let progress: (@Sendable (String) -> Void)?
    let notifier: Notifier?
    /// Where the notifier records failed and retried notices (set once the run has its ledger).
    let notices = LedgerSlot()
    /// Content fingerprints live in this pipeline's publish folder (one picture, one publication).
    let live = Mutex(Set<String>())
    /// Carries the pipeline's name; stages add their own name and the asset id (never a file name).
    let logger: Logger
    /// Where every operation on media bytes runs: sandboxed worker processes (the command line's), or in process.
    let media: MediaService

    /// `logger`: where stage events (debug), outcomes (info) and failures (warning) go; by default nowhere.
    public init(
        config: PipelineConfig, progress: (@Sendable (String) -> Void)? = nil,
        logger: Logger = Logger(label: "consentgate.pipeline", factory: { _ in SwiftLogNoOpLogHandler() }),
        media: MediaService = .inProcess
    ) {
        self.config = config
        self.media = media
        self.progress = progress
        var logger = logger
        logger[metadataKey: "pipeline"] = "\(config.name)"
        self.logger = logger
        let notifyLogger = logger
        let notices = self.notices
        let name = config.name
        notifier = config.notify.map {
            Notifier(
                command: $0, pipeline: config.name, channel: config.channel,
                report: { data, delivered, retryOf, why in
                    let ledger = notices.ledger.withLock { $0 }
                    let document = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
                    if delivered {
                        if let retryOf {
                            _ = try? ledger?.append(
                                pipeline: name, kind: .notifySent, asset: document["asset"] as? String,
                                fileSHA256: nil, contentSHA256: nil, detail: ["for_seq": retryOf])
                        }
                        return
                    }
                    notifyLogger.warning(
                        "notify: the notify command did not take the notice: \(why ?? "")",
                        metadata: [
                            "stage": "notify", "event": "\(document["event"] ?? "")",
                            "asset": "\(document["asset"] ?? "")",
                        ])
                    if retryOf == nil {
                        // Kept in the ledger (codes and ids only, as sent) so that later runs send it again.
                        _ = try? ledger?.append(
                            pipeline: name, kind: .notifyFailed, asset: document["asset"] as? String,
                            fileSHA256: nil, contentSHA256: nil, detail: ["document": document])
                    }
                })
        }
    }

    func pass(
        dryRun: Bool, now: Date, secondLook: Bool, inbox: Directory?, takeNew: Bool, shouldStop: @Sendable () -> Bool,
        probed: ProbedFolders = ProbedFolders()
    ) throws(PipelineError) -> RunSummary {
        let lockName = config.postgres == nil ? ".lock" : ".lock-" + config.hostID
        let lock = dryRun ? nil : try PipelineLock(folder: config.work, wait: config.lockWaitSeconds, name: lockName)
        defer { lock?.release() }
        if !dryRun { removeStaleTemporaries() }
        var probed = probed
        if !dryRun { probeOwnFolders(into: &probed) }
        // Unusable, it stops nothing: no record verifies (`loadRegistry`). Hashed before it is loaded (RunRegistry).
        let trust: Result<TrustStore, TrustStoreError>, trustHash = try? FileSource(path: config.trust).sha256()
        do throws(TrustStoreError) { trust = .success(try TrustStore.load(path: config.trust)) } catch {
            trust = .failure(error)
        }
        let ledger: (any LedgerStore)? = dryRun ? try LedgerStores.openIfPresent(config) : try LedgerStores.open(config)
        defer { ledger?.disconnect() }
        let hosts = ledger as? any HostCoordination
        if !dryRun { try hosts?.forgetOldClaims(pipeline: config.name) }
        var summary = RunSummary(pipeline: config.name, dryRun: dryRun)
        summary.folders = probed.reports
        _ = FileIO.takeFolderSyncRefusals()
        if let ledger { summary.ledgerProblems = try checkLedger(ledger) }
        if !dryRun, let ledger, let notifier {
            notices.ledger.withLock { $0 = ledger }
            try resendFailedNotices(ledger: ledger, notifier: notifier)
        }
        // The sweep comes first: nothing in the inbox can delay a retraction.
        let inHand = Set(Folders.entries(of: config.work).filter { !$0.hasPrefix(".") })
        // Idle (nothing in hand, an empty inbox): the records may be left unread (issue 28, `RunRegistry`).
        let inboxDirectory = inbox ?? Directory(Array(config.inbox.utf8), in: nil, followLinks: true)
        let idle = inHand.isEmpty && inboxDirectory?.names()?.isEmpty == true
        let records = try RunRegistry(
            config: config, ledger: ledger, dryRun: dryRun, now: now, idle: idle,
            trustHash: (try? trust.get()) == nil ? nil : trustHash, summary: &summary
        ) { (summary: inout RunSummary) throws(PipelineError) -> Registry in
            try self.loadRegistry(trust: trust, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
        }
        summary.warnings += probed.warnings
        let swept = try sweep(
            records: records, ledger: ledger, dryRun: dryRun, now: now, inHand: inHand, summary: &summary)

        // The pending quarantines whose consent has arrived, before the stages (deciding them may read the records).
        var releasing: [(String, RawPath, String)] = []
        if !dryRun && summary.publishingStopped.isEmpty {
            releasing = try releasable(records: records, ledger: ledger!, now: now, inHand: inHand, summary: &summary)
        }
        // What is live, which delivery must not publish twice: fingerprints only, and only if records were read.
        if records.isLoaded {
            let liveContent = try LiveLookup(ledger: ledger).contents(pipeline: config.name)
            live.withLock { $0 = liveContent }
        }
        // Records left unread: nothing is handed to the stages this run (nothing in hand, nothing released, and the
        // inbox, empty when the run began, is not looked at again).
        let registry =
            records.isLoaded
            ? try records.registry(&summary)
            : Registry.unverifiable(timeZone: config.timeZone, because: "the records were not read in this idle run")
        let stages = Stages(config: config, registry: registry, now: now, dryRun: dryRun, media: media, logger: logger)
        summary.unsandboxed = media.unsandboxedBecause
        summary.peopleCheck = config.people.summary
        // Each stage on its own queue with its own width (SPEC §2), delivery on one serial queue. A file is
        // claimed only when a slot is free, so at most `inFlight` files are claimed-but-undelivered, however many
        // wait. The bytes are read by the workers (one per core), so what this process holds per file in flight is
        // a descriptor and a few fingerprints: four per core keep every worker busy while other files wait on the
        // disk (a copy's sync, a rename, the ledger), and give delivery batches to commit together.
        // Deciding is a pure function of values in memory (microseconds): one at a time.
        let cores = max(2, ProcessInfo.processInfo.activeProcessorCount)
        let inFlight = 4 * cores
        let slots = DispatchSemaphore(value: inFlight)
        let group = DispatchGroup()
        let inspecting = StageQueue(.inspect, width: 2 * cores)
        let deciding = StageQueue(.decide, width: 1)
        let sanitizing = StageQueue(.sanitize, width: 2 * cores)
        let delivery = DispatchQueue(label: "consentgate.deliver")
        // Group commit: the files that finish sanitizing while delivery is busy wait here, and the next delivery
        // takes them all as one batch (`deliverTogether`).
        let ready = Mutex([(item: Processed, number: Int)]())
        let gathers = !dryRun && DeliveryTestHooks.current.gathers
        let logger = self.logger
        // Counts for every file; item reports for the first `RunSummary.maxItems` only, so memory stays flat.
        let collected = Mutex(RunSummary(pipeline: config.name, dryRun: dryRun))
        let started = Mutex(0)
        func hand(_ asset: String, _ path: RawPath, _ original: String) {
            let number = started.withLock { count -> Int in
                count += 1
                return count
            }
            let claimed = ClaimedFile(asset: asset, path: path, original: original)
            inspecting.async(group: group) {
                let inspected = stages.inspect(claimed)
                deciding.async(group: group) {
                    let decided = stages.decide(inspected)
                    sanitizing.async(group: group) {
                        let processed = stages.sanitize(decided)
                        ready.withLock { $0.append((processed, number)) }
                        delivery.async(group: group) {
                            if gathers {  // Tests only: wait for a batch that can reach the step.
                                DeliveryTestHooks.current.gather {
                                    ready.withLock { ($0.count, $0.count { $0.item.sanitized?.pending != nil }) }
                                }
                            }
                            let batch = ready.withLock { waiting in
                                defer { waiting = [] }
                                return waiting
                            }
                            guard !batch.isEmpty else { return }
                            defer { for _ in batch { slots.signal() } }
                            let reports =
                                dryRun
                                ? batch.map { self.wouldDeliver($0.item) }
                                : self.deliverOrLeave(batch.map(\.item), ledger: ledger!, now: now)
                            collected.withLock { summary in
                                for report in reports { summary.add(report) }
                            }
                            for report in reports {
                                logger.info(
                                    "delivered",
                                    metadata: [
                                        "stage": "deliver", "asset": "\(report.asset)",
                                        "outcome": "\(report.outcome.rawValue)",
                                    ])
                            }
                            if let last = batch.map(\.number).max() { self.progress?("\(last) file(s)") }
                        }
                    }
                }
            }
        }
        // An invalid record that names no authorization: nothing new is published until it is fixed or removed.
        let stopped = summary.publishingStopped
        func hold(_ asset: String) {
            summary.held += 1
            summary.add(
                ItemReport(
                    asset: asset, outcome: .left,
                    reasons: ["held, nothing new is published: " + stopped.joined(separator: "; ")],
                    records: []))
        }

        // First what an interrupted run had claimed, then the pending quarantines whose consent has arrived, then
        // what has settled in the inbox.
        if !dryRun {
            // Files whose copy an interrupted run had already put into publish go first, and are delivered before
            // anything else is decided: until their publication is recorded, the live set cannot know their picture,
            // and a second copy of it (recovered or new) would be published beside them.
            let finishFirst = inHandInPublish(inHand)
            let order = finishFirst + inHand.subtracting(finishFirst).sorted()
            for (position, name) in order.enumerated() {
                if position == finishFirst.count && !finishFirst.isEmpty { group.wait() }
                if !stopped.isEmpty {
                    hold(name)
                    continue
                }
                slots.wait()
                let recovered: (String, RawPath)?
                do {
                    // Another host's file in the shared work folder, its lease alive: that host finishes it.
                    if let hosts, Runner.isAssetID(name), try !hosts.takeAsset(pipeline: config.name, asset: name) {
                        logger.debug("held by another host", metadata: ["stage": "recovery", "asset": "\(name)"])
                        slots.signal()
                        continue
                    }
                    recovered = try recoverable(name, ledger: ledger!, now: now, summary: &summary)
                } catch {
                    slots.signal()
                    group.wait()
                    throw error
                }
                guard let (asset, path) = recovered else {
                    slots.signal()
                    continue
                }
                hand(asset, path, "(recovered after an interrupted run)")
            }
            if !finishFirst.isEmpty && finishFirst.count == order.count { group.wait() }
        }
        // Files seen for the first time with their size and mtime (by that stamp): when each was first seen so.
        for (asset, path, original) in releasing {
            slots.wait()
            hand(asset, path, original)
        }
        var waiting: [String: Date] = [:]
        var stillSettling = 0
        // Group commit of claims: files renamed into the work folder whose events are not recorded yet. They are
        // recorded together (one sync of the work folder, one ledger transaction) before the runner waits for a
        // slot and at the end of each look, then handed to the stages.
        // A claim waits at most a quarter of a second for others to join it (a long listing of unsettled files goes
        // on meanwhile).
        var pendingClaims: [(asset: String, path: RawPath, original: String)] = []
        var pendingSince = Date()
        func recordPendingClaims() throws(PipelineError) {
            guard !pendingClaims.isEmpty else { return }
            let batch = pendingClaims
            pendingClaims = []
            DeliveryTestHooks.current.reached(.claimsMoved, batch: batch.count)
            Folders.syncFolder(config.work + "/" + batch[0].asset)
            do { try recordClaims(batch.map(\.asset), ledger: ledger!) } catch {
                for _ in batch { slots.signal() }
                throw error
            }
            for claim in batch { hand(claim.asset, claim.path, claim.original) }
        }
        func pass(firstLook: Bool) throws(PipelineError) {
            do {
                func visit(_ entry: Found) throws -> Bool {
                    if shouldStop() { return false }
                    if !pendingClaims.isEmpty && Date().timeIntervalSince(pendingSince) > 0.25 { try recordPendingClaims() }
                    switch entry {
                    case .unsettled(_, let relative, let stamp):
                        // Still (or newly) changing at the second look: still settling.
                        guard firstLook else {
                            stillSettling += 1
                            return true
                        }
                        // Dropped moments ago: the first of the two looks is noted now, so that the second look
                        // (in this run when `settle_seconds` allows, else the next run) can take it.
                        if dryRun || !stopped.isEmpty {
                            summary.unsettled += 1
                        } else {
                            waiting[stamp] = try noteFirstLook(relative, stamp: stamp, ledger: ledger!)
                        }
                    case .unreadable(let path, let why):
                        guard firstLook else { return true }
                        // Several hosts: an entry gone since the listing was claimed by another host.
                        var info = stat()
                        if config.postgres != nil, path.withCString({ lstat($0, &info) }) != 0, errno == ENOENT {
                            return true
                        }
                        summary.add(
                            ItemReport(
                                asset: Runner.entryID(path.bytes), outcome: .left, reasons: [why], records: []))
                    case .hostile(let path, let relative, let why, let place):
                        guard firstLook else { return true }
                        let asset = Runner.hostileAssetID(path, relative: relative)
                        if dryRun {
                            summary.add(ItemReport(asset: asset, outcome: .quarantined, reasons: [why], records: []))
                        } else {
                            summary.add(
                                try deliverHostile(
                                    path, place: place, relative: relative, why: why, asset: asset, ledger: ledger!))
                        }
                    case .file(let path, let relative, _, let stamp, let place):
                        if !firstLook && waiting[stamp] == nil { return true }
                        if !stopped.isEmpty {
                            hold(Runner.entryID(relative))
                            return true
                        }
                        if !dryRun, let firstSeen = try settled(relative, stamp: stamp, ledger: ledger!) {
                            if firstLook { waiting[stamp] = firstSeen } else { stillSettling += 1 }
                            return true
                        }
                        if dryRun {
                            slots.wait()
                            hand(Folders.newAssetID(), path, Escape.display(relative))
                            return true
                        }
                        // Before waiting for a slot, what was claimed so far is recorded and handed on (the slots
                        // it holds are freed only by its delivery).
                        if slots.wait(timeout: .now()) == .timedOut {
                            try recordPendingClaims()
                            slots.wait()
                        }
                        let claimed: Claim
                        do {
                            claimed = try moveIntoWork(place, relative: relative, stamp: stamp, ledger: ledger!)
                        } catch {
                            slots.signal()
                            throw error
                        }
                        switch claimed {
                        case .claimed(let asset, let target):
                            if pendingClaims.isEmpty { pendingSince = Date() }
                            pendingClaims.append((asset, target, Escape.display(relative)))
                            // With several hosts a claim is recorded at once (each host's claims are its own).
                            if hosts != nil { try recordPendingClaims() }
                        case .gone:
                            slots.signal()
                        case .failed(let why):
                            slots.signal()
                            summary.add(
                                ItemReport(asset: Runner.entryID(relative), outcome: .left, reasons: [why], records: []))
                        }
                    }
                    return true
                }
                if let inbox {
                    try Folders.discover(inbox, path: config.inbox, settle: config.settleSeconds, now: Date(), visit: visit)
                } else {
                    try Folders.discover(inbox: config.inbox, settle: config.settleSeconds, now: Date(), visit: visit)
                }
                try recordPendingClaims()
            } catch {
                // Claims not recorded yet stay in the work folder (the next run recovers them); their slots go back,
                // so that nothing waits on them (and the semaphore ends as it began).
                for _ in pendingClaims { slots.signal() }
                pendingClaims = []
                group.wait()
                throw (error as? PipelineError) ?? PipelineError("\(error)", exitCode: 3)
            }
        }
        if takeNew && records.isLoaded { try pass(firstLook: true) }
        // The cron job's second look at files first seen now: wait until they could have settled, then look again.
        if secondLook && !waiting.isEmpty && config.settleSeconds <= 120 && !shouldStop() {
            let until = waiting.values.max()!.addingTimeInterval(config.settleSeconds + 0.05)
            let delay = until.timeIntervalSinceNow
            progress?("waiting \(Int(delay.rounded(.up))) s for \(waiting.count) new file(s) to settle")
            if delay > 0 { usleep(UInt32(min(delay, 121) * 1_000_000)) }
            try pass(firstLook: false)
            summary.unsettled += stillSettling
        } else {
            summary.unsettled += waiting.count
        }
        group.wait()
        summary.merge(collected.withLock { $0 })
        // Read again: a worker started later in the run (a replacement) may have come up without the filter.
        summary.unsandboxed = media.unsandboxedBecause
        // And once more at the end (a dry run changed nothing, so it has nothing more to see): a publication that
        // recovery finished is checked like every other one (with one host, a run that handed nothing on has not).
        let handed = started.withLock { $0 }
        if !dryRun && (handed > 0 || !inHand.isEmpty || config.postgres != nil) {
            try sweep(
                records: records, ledger: ledger, dryRun: false, now: Runner.decisionTime(after: now), inHand: [],
                skip: swept, summary: &summary)
        }
        summary.notifyFailures += notifier?.finish() ?? 0
        if !dryRun { summary.warnings += folderSyncWarnings(probed) }
        return summary
    }
}
