import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import Synchronization

/// What happened to one file (or would, in a dry run). Names no person: the asset id and hashes only.
public struct ItemReport: Sendable, Encodable {
    public var asset: String
    /// published, quarantined, retracted, left
    public var outcome: String
    public var reasons: [String]
    public var records: [String]
    public var publishedName: String?
}

/// The summary of one pass over a pipeline.
public struct RunSummary: Sendable, Encodable {
    public var pipeline: String
    public var dryRun: Bool
    public var published = 0
    /// Pending quarantines published once their consent arrived (counted in `published` too).
    public var released = 0
    /// Second copies of a picture already live in publish: archived, not published again.
    public var duplicates = 0
    public var quarantined = 0
    public var retracted = 0
    public var left = 0
    public var unsettled = 0
    /// Events the `notify` command failed to take (logged and counted; never changes an outcome).
    public var notifyFailures = 0
    /// Reports for the first `maxItems` files; the counts above cover every file.
    public var items: [ItemReport] = []
    public var itemsOmitted = 0
    public static let maxItems = 1000
    /// Every file of the authorizations folder that is not a valid record (SPEC §5: doubt blocks).
    public var invalidRecords: [InvalidRecordReport] = []
    /// Record warnings (a revocation of an authorization nobody has, fields an auditor expects...).
    public var warnings: [String] = []
    /// Why nothing new was published this run (an invalid record that names no authorization), if so.
    public var publishingStopped: [String] = []
    /// Problems with the ledger's hash chain (an edited or deleted event).
    public var ledgerProblems: [String] = []
    /// Revocations the ledger remembers whose files are gone from the authorizations folder (still in force).
    public var recordsGone: [String] = []

    public struct InvalidRecordReport: Sendable, Encodable {
        public var file: String
        public var reason: String
        /// The authorizations it blocks; empty when it names none (then nothing new is published).
        public var blocks: [String]
    }

    /// Counts an outcome and keeps its report while there is room.
    public mutating func add(_ item: ItemReport) {
        switch item.outcome {
        case "published": published += 1
        case "released":
            published += 1
            released += 1
        case "duplicate": duplicates += 1
        case "quarantined": quarantined += 1
        case "retracted": retracted += 1
        default: left += 1
        }
        if items.count < RunSummary.maxItems { items.append(item) } else { itemsOmitted += 1 }
    }

    mutating func merge(_ other: RunSummary) {
        published += other.published
        released += other.released
        duplicates += other.duplicates
        notifyFailures += other.notifyFailures
        quarantined += other.quarantined
        retracted += other.retracted
        left += other.left
        for item in other.items {
            if items.count < RunSummary.maxItems { items.append(item) } else { itemsOmitted += 1 }
        }
        itemsOmitted += other.itemsOmitted
    }

    /// SPEC §6: 0 all published or nothing to do; 1 something quarantined or retracted, or a doubt a person must
    /// look at (an invalid record, a broken ledger chain); 3 a file could not be brought to an outcome.
    public var exitCode: Int32 {
        if left > 0 { return 3 }
        let doubts =
            !invalidRecords.isEmpty || !publishingStopped.isEmpty || !ledgerProblems.isEmpty || notifyFailures > 0
            || !recordsGone.isEmpty
        return quarantined > 0 || retracted > 0 || doubts ? 1 : 0
    }
}

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

    public init(config: PipelineConfig, progress: (@Sendable (String) -> Void)? = nil) {
        self.config = config
        self.progress = progress
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
                                pipeline: name, kind: "notify_sent", asset: document["asset"] as? String,
                                fileSHA256: nil, contentSHA256: nil, detail: ["for_seq": retryOf])
                        }
                        return
                    }
                    FileHandle.standardError.write(
                        Data("notify: \(document["event"] ?? "") \(document["asset"] ?? ""): \(why ?? "")\n".utf8))
                    if retryOf == nil {
                        // Kept in the ledger (codes and ids only, as sent) so that later runs send it again.
                        _ = try? ledger?.append(
                            pipeline: name, kind: "notify_failed", asset: document["asset"] as? String,
                            fileSHA256: nil, contentSHA256: nil, detail: ["document": document])
                    }
                })
        }
    }

    /// An item after the CPU stages, ready for delivery.
    struct Processed: Sendable {
        var asset: String
        var claimed: RawPath
        var fingerprints: Fingerprints?
        var decision: ConsentDecision?
        var reasons: [(code: String, message: String)]
        var sanitized: SanitizedFile?
        /// Why the sanitized copy could not be written (I/O, not the file's fault): delivery leaves the file.
        var writeFailure: String? = nil
        var format: MediaFormat
        var original: String
    }

    /// `shouldStop` is asked before each new file is claimed (watch mode's SIGTERM): files in hand are finished.
    /// `secondLook`: when a file is seen for the first time with its size and mtime, wait (at most 120 s) and look
    /// again within this run (the cron job), instead of leaving it for the next run (watch mode passes false).
    /// `inbox: false` (`quarantine recheck`): the sweep, recovery and the pending quarantines only; the inbox is
    /// not looked at.
    public func run(
        dryRun: Bool = false, now: Date = Date(), secondLook: Bool = false, inbox takeNew: Bool = true,
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
        let (held, folders) = try config.hold()
        return try withExtendedLifetime(folders) { () throws(PipelineError) -> RunSummary in
            try Runner(config: held, progress: progress).pass(
                dryRun: false, now: now, secondLook: secondLook, inbox: folders.inbox, takeNew: takeNew,
                shouldStop: shouldStop)
        }
    }

    func pass(
        dryRun: Bool, now: Date, secondLook: Bool, inbox: Directory?, takeNew: Bool, shouldStop: @Sendable () -> Bool
    ) throws(PipelineError) -> RunSummary {
        let lock = dryRun ? nil : try PipelineLock(folder: config.work, wait: config.lockWaitSeconds)
        defer { lock?.release() }
        if !dryRun { removeStaleTemporaries() }
        let trust: TrustStore
        do { trust = try TrustStore.load(path: config.trust) } catch { throw PipelineError("\(config.file): \(error)") }
        let ledger: Ledger? =
            dryRun ? (FileIO.exists(config.ledger) ? try Ledger(path: config.ledger, create: false) : nil)
            : try Ledger(path: config.ledger)
        var summary = RunSummary(pipeline: config.name, dryRun: dryRun)
        if let ledger { summary.ledgerProblems = try ledger.verifyChain() }
        if !dryRun, let ledger, let notifier {
            notices.ledger.withLock { $0 = ledger }
            try resendFailedNotices(ledger: ledger, notifier: notifier)
        }
        let registry = try loadRegistry(trust: trust, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)

        // The sweep comes first: nothing in the inbox can delay a retraction.
        let inHand = Set(Folders.entries(of: config.work).filter { !$0.hasPrefix(".") })
        let swept = try sweep(
            registry: registry, ledger: ledger, dryRun: dryRun, now: now, inHand: inHand, summary: &summary)

        let livePublications = try ledger?.livePublications() ?? [:]
        live.withLock { set in
            set = Set(livePublications.values.filter { $0.pipeline == config.name }.compactMap(\.contentSHA256))
        }
        let stages = Stages(config: config, registry: registry, now: now, dryRun: dryRun)
        // CPU stages on a concurrent queue, delivery on one serial queue. A file is claimed only when a slot is
        // free, so at most `width` files are claimed-but-undelivered or in memory, however many wait.
        let width = max(2, ProcessInfo.processInfo.activeProcessorCount)
        let slots = DispatchSemaphore(value: width)
        let group = DispatchGroup()
        let work = DispatchQueue(label: "consentgate.inspect-verify-sanitize", attributes: .concurrent)
        let delivery = DispatchQueue(label: "consentgate.deliver")
        // Counts for every file; item reports for the first `RunSummary.maxItems` only, so memory stays flat.
        let collected = Mutex(RunSummary(pipeline: config.name, dryRun: dryRun))
        let started = Mutex(0)
        func hand(_ asset: String, _ path: RawPath, _ original: String) {
            let number = started.withLock { count -> Int in
                count += 1
                return count
            }
            work.async(group: group) {
                let processed = stages.process(asset: asset, path: path, original: original)
                delivery.async(group: group) {
                    defer { slots.signal() }
                    let report =
                        dryRun ? self.wouldDeliver(processed) : self.deliverOrLeave(processed, ledger: ledger!, now: now)
                    collected.withLock { $0.add(report) }
                    self.progress?("\(number) file(s)")
                }
            }
        }
        // An invalid record that names no authorization: nothing new is published until it is fixed or removed.
        let stopped = summary.publishingStopped
        func hold(_ asset: String) {
            summary.add(
                ItemReport(
                    asset: asset, outcome: "left",
                    reasons: ["held until the invalid record is fixed or removed: " + stopped.joined(separator: "; ")],
                    records: []))
        }

        // First what an interrupted run had claimed, then the pending quarantines whose consent has arrived, then
        // what has settled in the inbox.
        var releasing: [(String, RawPath, String)] = []
        if !dryRun && stopped.isEmpty {
            releasing = try releasable(
                registry: registry, ledger: ledger!, now: now, inHand: inHand, summary: &summary)
        }
        if !dryRun {
            for name in inHand.sorted() {
                if !stopped.isEmpty {
                    hold(name)
                    continue
                }
                slots.wait()
                let recovered: (String, RawPath)?
                do { recovered = try recoverable(name, ledger: ledger!, now: now, summary: &summary) } catch {
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
        }
        // Files seen for the first time with their size and mtime (by that stamp): when each was first seen so.
        for (asset, path, original) in releasing {
            slots.wait()
            hand(asset, path, original)
        }
        var waiting: [String: Date] = [:]
        var stillSettling = 0
        func pass(firstLook: Bool) throws(PipelineError) {
            do {
                func visit(_ entry: Found) throws -> Bool {
                    if shouldStop() { return false }
                    switch entry {
                    case .unsettled:
                        if firstLook { summary.unsettled += 1 }
                    case .unreadable(let path, let why):
                        guard firstLook else { return true }
                        summary.add(
                            ItemReport(
                                asset: Runner.entryID(path.bytes), outcome: "left", reasons: [why], records: []))
                    case .hostile(let path, let relative, let why, let place):
                        guard firstLook else { return true }
                        let asset = Runner.hostileAssetID(path, relative: relative)
                        if dryRun {
                            summary.add(ItemReport(asset: asset, outcome: "quarantined", reasons: [why], records: []))
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
                        slots.wait()
                        if dryRun {
                            hand(Folders.newAssetID(), path, Escape.display(relative))
                            return true
                        }
                        let claimed: Claim
                        do { claimed = try claim(place, relative: relative, ledger: ledger!, now: now) } catch {
                            slots.signal()
                            throw error
                        }
                        switch claimed {
                        case .claimed(let asset, let target):
                            hand(asset, target, Escape.display(relative))
                        case .gone:
                            slots.signal()
                        case .failed(let why):
                            slots.signal()
                            summary.add(
                                ItemReport(asset: Runner.entryID(relative), outcome: "left", reasons: [why], records: []))
                        }
                    }
                    return true
                }
                if let inbox {
                    try Folders.discover(inbox, path: config.inbox, settle: config.settleSeconds, now: Date(), visit: visit)
                } else {
                    try Folders.discover(inbox: config.inbox, settle: config.settleSeconds, now: Date(), visit: visit)
                }
            } catch {
                group.wait()
                throw (error as? PipelineError) ?? PipelineError("\(error)", exitCode: 3)
            }
        }
        if takeNew { try pass(firstLook: true) }
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
        // And once more at the end (a dry run changed nothing, so it has nothing more to see): a publication that
        // recovery finished is checked like every other one.
        if !dryRun {
            try sweep(
                registry: registry, ledger: ledger, dryRun: false, now: now, inHand: [], skip: swept, summary: &summary)
        }
        summary.notifyFailures += notifier?.finish() ?? 0
        return summary
    }

    /// Notices earlier runs could not deliver (`notify_failed` with no `notify_sent` for it), sent again, oldest
    /// first, at most 100 a run.
    func resendFailedNotices(ledger: Ledger, notifier: Notifier) throws(PipelineError) {
        var sent = Set<Int64>()
        for event in try ledger.events(where: "pipeline = ? AND kind = 'notify_sent'", [config.name]) {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            if let seq = (detail["for_seq"] as? NSNumber)?.int64Value { sent.insert(seq) }
        }
        var count = 0
        for event in try ledger.events(where: "pipeline = ? AND kind = 'notify_failed'", [config.name])
        where !sent.contains(event.seq) && count < 100 {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let document = detail["document"] as? [String: Any] else { continue }
            notifier.resend(document, retryOf: event.seq)
            count += 1
        }
    }

    /// Pending quarantines (every reason curable by a new record, quarantined at most `pending_days` ago) that
    /// today's records approve: each is taken back into the work folder (a `release_started` event first, so
    /// that a kill between the two leaves it pending) and then handled like a new file.
    func releasable(
        registry: Registry, ledger: Ledger, now: Date, inHand: Set<String>, summary: inout RunSummary
    ) throws(PipelineError) -> [(String, RawPath, String)] {
        var taken: [(String, RawPath, String)] = []
        let names = Folders.entries(of: config.quarantine)
        // A reason file whose asset was released or archived as a duplicate since (a kill came between the move
        // and its removal) has nothing left to explain: it goes, with the name it keeps.
        for name in names where name.hasSuffix(".reason.json") {
            let asset = String(name.dropLast(".reason.json".count))
            if names.contains(where: { $0.hasPrefix(asset + ".") && !$0.hasSuffix(".reason.json") }) { continue }
            let last = try ledger.lastEvent(asset: asset, kinds: QuarantineState.kinds)
            if last?.kind == "released" || last?.kind == "duplicate" || last?.kind == "published" {
                try? FileManager.default.removeItem(atPath: config.quarantine + "/" + name)
            }
        }
        for candidate in try QuarantineState.pending(
            ledger: ledger, pipeline: config.name, pendingDays: config.pendingDays, now: now)
        {
            // Already in hand (a kill after it was taken back): recovery finishes it.
            if inHand.contains(candidate.asset) { continue }
            let decision = ConsentPolicy.decide(
                presentedSHA256: candidate.contentSHA256, fileSHA256: candidate.fileSHA256, channel: config.channel,
                registry: registry, now: now, newPublication: true)
            guard decision.approved else { continue }
            guard
                let original = names.first(where: {
                    $0.hasPrefix(candidate.asset + ".") && !$0.hasSuffix(".reason.json")
                })
            else { continue }
            let reasonPath = config.quarantine + "/" + candidate.asset + ".reason.json"
            let report =
                FileManager.default.contents(atPath: reasonPath).flatMap {
                    (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any]
                } ?? [:]
            try ledger.append(
                pipeline: config.name, kind: "release_started", asset: candidate.asset,
                fileSHA256: candidate.fileSHA256, contentSHA256: candidate.contentSHA256,
                detail: ["records": decision.usedRecords])
            let target = config.work + "/" + candidate.asset
            do { try Folders.move(RawPath(config.quarantine + "/" + original), to: target, allowCopy: true) } catch {
                summary.add(
                    ItemReport(
                        asset: candidate.asset, outcome: "left",
                        reasons: ["its consent arrived, but it cannot be taken out of quarantine: \(error)"],
                        records: decision.usedRecords))
                continue
            }
            taken.append((candidate.asset, RawPath(target), report["original_name"] as? String ?? "(released)"))
        }
        return taken
    }

    /// Loads and verifies the records; remembers in the ledger when each record file was first seen (so a retired
    /// key cannot back-date one) and reports every invalid record, warning and global doubt in the summary.
    func loadRegistry(trust: TrustStore, ledger: Ledger?, dryRun: Bool, now: Date, summary: inout RunSummary)
        throws(PipelineError) -> Registry
    {
        let (registry, gone) = try PipelineRecords.loadNoting(config: config, trust: trust, ledger: ledger, now: now)
        summary.recordsGone = gone
        if !dryRun, let ledger { try PipelineRecords.remember(registry, config: config, ledger: ledger) }
        // A stray file's name can be anything, a patient's name too: the summary (a cron mail, a log) names only
        // entries named like records; `records verify`, the privacy office's own tool, names them all.
        func shown(_ record: InvalidRecord) -> String {
            let plain = record.displayFile.allSatisfy {
                $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0))
            }
            return plain && record.displayFile.count <= 140
                ? record.displayFile : "an entry not named like a record (consentgate records verify names it)"
        }
        summary.invalidRecords = registry.invalid.map {
            RunSummary.InvalidRecordReport(
                file: shown($0), reason: shown($0) == $0.displayFile ? $0.reason : "not a valid record",
                blocks: $0.blocks.filter { registry.authorizations[$0] != nil })
        }
        summary.warnings = registry.warnings
        if !dryRun {
            for record in registry.invalid {
                // Only ids of authorizations that exist: a stray file's own "id" is free text.
                let blocked = record.blocks.filter { registry.authorizations[$0] != nil }
                notifier?.send("invalid_record", asset: nil, records: blocked, reasons: ["invalid_record"])
            }
        }
        summary.publishingStopped = registry.globalDoubts.map {
            shown($0) == $0.displayFile
                ? "\($0.displayFile) is not a valid record and names no authorization (\(Escape.display($0.reason)))"
                : "\(shown($0)) is not a valid record and names no authorization"
        }
        return registry
    }

    /// Settling (SPEC §2): nil when the entry had this size and mtime at a look at least `settle_seconds` ago
    /// (take it now); otherwise when it was first seen so, after recording this look.
    func settled(_ relative: [UInt8], stamp: String, ledger: Ledger) throws(PipelineError) -> Date? {
        if config.settleSeconds <= 0 { return nil }
        let key = "inbox:" + sha256Hex(relative)
        let now = Date()
        if let seen = try ledger.observation(key), seen.mtime == stamp {
            if now.timeIntervalSince(seen.firstSeen) >= config.settleSeconds {
                try ledger.observe(key, nil)
                return nil
            }
            return seen.firstSeen
        }
        try ledger.observe(key, Ledger.Observation(size: 0, mtime: stamp, firstSeen: now, failures: 0))
        return now
    }

    enum Claim {
        case claimed(String, RawPath)
        /// Another instance took it first.
        case gone
        case failed(String)
    }

    /// The claim: an atomic rename into the work folder (never over anything there), then the ledger's `claimed`
    /// event. A file that cannot be renamed is counted as left, every run, until someone acts: never skipped in
    /// silence.
    func claim(_ place: Place, relative: [UInt8], ledger: Ledger, now: Date) throws(PipelineError) -> Claim {
        let asset = Folders.newAssetID()
        let target = config.work + "/" + asset
        guard place.withName({ from in target.withCString { cgsys_rename_noreplace(place.folder.fd, from, AT_FDCWD, $0) } })
            == 0
        else {
            let failure = errno
            if failure == ENOENT { return .gone }
            return .failed(
                "cannot be claimed (\(String(cString: strerror(failure)))): ConsentGate must be able to move it from "
                    + "its inbox folder into the work folder on the same filesystem")
        }
        Folders.syncFolder(target)
        // If this append fails the file stays claimed in the work folder; the next run recovers it.
        try ledger.append(
            pipeline: config.name, kind: "claimed", asset: asset, fileSHA256: nil, contentSHA256: nil,
            detail: [:])
        return .claimed(asset, RawPath(target))
    }

    /// What a file left in the work folder is: a claimed asset (the ledger has its `claimed` event) keeps its id;
    /// anything else is claimed again under a new id (a kill between the rename and the ledger's event leaves
    /// such a file), so no name in the work folder can make delivery replace another asset's original.
    func recoverable(_ name: String, ledger: Ledger, now: Date, summary: inout RunSummary) throws(PipelineError)
        -> (String, RawPath)?
    {
        let path = RawPath(config.work + "/" + name)
        guard let work = Directory(Array(config.work.utf8), in: nil, followLinks: true) else {
            throw PipelineError("cannot open the work folder \(config.work)", exitCode: 3)
        }
        let place = Place(folder: work, name: Array(name.utf8))
        var info = stat()
        guard place.withName({ fstatat(work.fd, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 else { return nil }
        if info.st_mode & S_IFMT != S_IFREG {
            let asset = Runner.hostileAssetID(path, relative: Array(name.utf8))
            summary.add(
                try deliverHostile(
                    path, place: place, relative: Array(name.utf8), why: "not a regular file", asset: asset,
                    ledger: ledger))
            return nil
        }
        let isAssetID = name.count == 32 && name.allSatisfy { $0.isHexDigit && !$0.isUppercase }
        if isAssetID, try ledger.lastEvent(asset: name, kinds: ["claimed"]) != nil {
            // An asset whose original was already delivered cannot be in hand again: the work file is either
            // what a cross-filesystem move left behind (the same bytes: finish it) or something else (a new asset).
            let delivered = [config.archive, config.quarantine].flatMap { folder in
                Folders.entries(of: folder).filter { $0.hasPrefix(name + ".") && !$0.hasSuffix(".reason.json") }
                    .map { folder + "/" + $0 }
            }
            if delivered.isEmpty { return (name, path) }
            if delivered.contains(where: { Folders.sameBytes(path, $0) }) {
                _ = path.withCString { unlink($0) }
                return nil
            }
        }
        switch try claim(place, relative: Array(("work/" + name).utf8), ledger: ledger, now: now) {
        case .claimed(let asset, let target): return (asset, target)
        case .gone: return nil
        case .failed(let why):
            summary.add(ItemReport(asset: Runner.entryID(Array(name.utf8)), outcome: "left", reasons: [why], records: []))
            return nil
        }
    }

    /// An opaque id for an entry of the inbox in reports (never its name).
    static func entryID(_ relative: [UInt8]) -> String { "entry-" + String(sha256Hex(relative).prefix(16)) }

    /// Temporary files (".NAME.cg-XXXX.tmp") that a killed run left in ConsentGate's folders. Under the
    /// pipeline lock no other run of this pipeline is writing, so every one of them is dead.
    func removeStaleTemporaries() {
        for folder in [config.publish, config.quarantine, config.archive, config.retracted] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            where name.hasPrefix(".") && name.hasSuffix(".tmp") && name.contains(".cg-") {
                try? FileManager.default.removeItem(atPath: folder + "/" + name)
            }
        }
    }

    func wouldDeliver(_ item: Processed) -> ItemReport {
        let publish = item.decision?.approved == true && item.sanitized != nil && item.reasons.isEmpty
        return ItemReport(
            asset: item.asset, outcome: publish ? "published" : "quarantined", reasons: item.reasons.map(\.message),
            records: item.decision?.usedRecords ?? [])
    }

    /// How many runs in a row may leave a file for an I/O error before it is quarantined with that error.
    static let maxFailures = 3

    /// Delivers, or, when delivery fails (a full disk, an unwritable folder), leaves the file claimed for the next
    /// run; the third failure in a row quarantines it with the error instead of retrying it forever.
    func deliverOrLeave(_ item: Processed, ledger: Ledger, now: Date) -> ItemReport {
        let key = "work:" + item.asset
        do {
            let report = try deliver(item, ledger: ledger, now: now)
            if item.writeFailure == nil { try? ledger.observe(key, nil) }
            return report
        } catch {
            item.sanitized?.pending?.discard()
            let failures = ((try? ledger.observation(key))??.failures ?? 0) + 1
            if failures >= Runner.maxFailures {
                var failed = item
                failed.reasons.insert(
                    ("io_error", "left \(failures) runs in a row for the same kind of error, now quarantined: \(error)"),
                    at: 0)
                failed.decision = nil
                failed.sanitized = nil
                failed.writeFailure = nil
                if let report = try? deliver(failed, ledger: ledger, now: now) {
                    try? ledger.observe(key, nil)
                    return report
                }
            }
            try? ledger.observe(
                key, Ledger.Observation(size: 0, mtime: "", firstSeen: now, failures: failures))
            return ItemReport(
                asset: item.asset, outcome: "left", reasons: ["\(error) (run \(failures) of \(Runner.maxFailures))"],
                records: [])
        }
    }

    /// Publish + archive, or quarantine with a reason. Crash-safe: every step can be repeated after a kill.
    func deliver(_ item: Processed, ledger: Ledger, now: Date) throws(PipelineError) -> ItemReport {
        if let why = item.writeFailure {
            throw PipelineError("the published copy of \(item.asset) cannot be written: \(why)", exitCode: 3)
        }
        let ext = Stages.fileExtension(item.format)
        let publishedName = item.asset + "." + ext
        let publishedPath = config.publish + "/" + publishedName
        // A publish file left by an interrupted run is finished, whatever is decided now: the sweep at the end of
        // this run retracts it if consent has gone since. This keeps a file from ending both published and
        // quarantined.
        let alreadyPublished = FileIO.exists(publishedPath)
        // Likewise a quarantine the ledger already records is finished as recorded, even if consent arrived since:
        // the picture can be dropped again, and the ledger never says both.
        // (A pending quarantine taken back for release has a newer `release_started` event.)
        let lastDecision = try ledger.lastEvent(asset: item.asset, kinds: ["quarantined", "release_started"])
        let alreadyQuarantined = !alreadyPublished && lastDecision?.kind == "quarantined"
        let releasing = lastDecision?.kind == "release_started"
        let approved = item.decision?.approved == true && item.reasons.isEmpty && item.sanitized != nil
        // One picture, one publication: a second copy of a picture live in publish is archived, not published.
        if approved && !alreadyPublished && !alreadyQuarantined, let content = item.fingerprints?.contentSHA256,
            live.withLock({ $0.contains(content) })
        {
            item.sanitized?.pending?.discard()
            let first = try ledger.livePublications().values.first {
                $0.pipeline == config.name && $0.contentSHA256 == content
            }
            if try ledger.lastEvent(asset: item.asset, kinds: ["duplicate"]) == nil {
                try ledger.append(
                    pipeline: config.name, kind: "duplicate", asset: item.asset, fileSHA256: item.fingerprints?.fileSHA256,
                    contentSHA256: content, detail: ["published_name": first?.name ?? "", "of": first?.asset ?? ""])
                notifier?.send("duplicate", asset: item.asset, publishedName: first?.name)
            }
            try Folders.move(item.claimed, to: config.archive + "/" + item.asset + "." + ext, allowCopy: true)
            if releasing { try? FileManager.default.removeItem(atPath: config.quarantine + "/" + item.asset + ".reason.json") }
            return ItemReport(
                asset: item.asset, outcome: "duplicate",
                reasons: ["the same picture is already published as \(first?.name ?? "another file"): archived, not published twice"],
                records: [], publishedName: first?.name)
        }
        if alreadyPublished || (approved && !alreadyQuarantined) {
            if let pending = item.sanitized?.pending {
                // The copy verified in this run replaces whatever an interrupted run left under this name.
                try wrap { () throws(MediaError) in try pending.commit() }
            } else if !alreadyPublished {
                throw PipelineError("no verified copy of \(item.asset) was written to publish", exitCode: 3)
            }
            let identity = try Runner.identity(of: RawPath(publishedPath))
            let recorded = try ledger.lastEvent(asset: item.asset, kinds: ["published", "released"])
            let kind = releasing || recorded?.kind == "released" ? "released" : "published"
            if recorded == nil || !(recorded!.detail.contains(identity.sha256)) {
                try ledger.append(
                    pipeline: config.name, kind: kind, asset: item.asset,
                    fileSHA256: item.fingerprints?.fileSHA256,
                    contentSHA256: item.fingerprints?.contentSHA256,
                    detail: [
                        "published_name": publishedName, "records": item.decision?.usedRecords ?? [],
                        "channel": config.channel, "published_sha256": identity.sha256,
                        "published_stat": identity.stat,
                    ])
                notifier?.send(
                    kind, asset: item.asset, publishedName: publishedName, records: item.decision?.usedRecords ?? [])
            }
            if let content = item.fingerprints?.contentSHA256 { live.withLock { _ = $0.insert(content) } }
            try Folders.move(item.claimed, to: config.archive + "/" + item.asset + "." + ext, allowCopy: true)
            if kind == "released" {
                // Its quarantine is over: the reason file goes with it.
                try? FileManager.default.removeItem(atPath: config.quarantine + "/" + item.asset + ".reason.json")
            }
            return ItemReport(
                asset: item.asset, outcome: kind, reasons: [], records: item.decision?.usedRecords ?? [],
                publishedName: publishedName)
        }
        item.sanitized?.pending?.discard()
        let reasons = item.reasons.isEmpty ? [(code: "unknown", message: "not approved")] : item.reasons
        // After a kill the reason already written (with the original name) is kept.
        if !(alreadyQuarantined && FileIO.exists(config.quarantine + "/" + item.asset + ".reason.json")) {
            try writeReason(
                folder: config.quarantine, asset: item.asset, original: item.original, fingerprints: item.fingerprints,
                reasons: reasons, records: item.decision?.matchingRecords ?? [], now: now,
                pending: reasons.allSatisfy { QuarantineState.curable.contains($0.code) })
        }
        // The ledger first, then the move: a kill between them leaves the original in the work folder, and the
        // next run finishes the move without a second event. The other order could lose the event for good.
        // Pending: every reason is one a new record can cure; each run decides it again for `pending_days`.
        let pending = reasons.allSatisfy { QuarantineState.curable.contains($0.code) }
        if !alreadyQuarantined {
            try ledger.append(
                pipeline: config.name, kind: "quarantined", asset: item.asset,
                fileSHA256: item.fingerprints?.fileSHA256,
                contentSHA256: item.fingerprints?.contentSHA256,
                detail: [
                    "reasons": reasons.map(\.code), "records": item.decision?.matchingRecords ?? [], "pending": pending,
                ])
            notifier?.send(
                "quarantined", asset: item.asset, records: item.decision?.matchingRecords ?? [],
                reasons: reasons.map(\.code))
        }
        try Folders.move(item.claimed, to: config.quarantine + "/" + item.asset + "." + ext, allowCopy: true)
        return ItemReport(
            asset: item.asset, outcome: "quarantined", reasons: reasons.map(\.message),
            records: item.decision?.matchingRecords ?? [])
    }

    /// A published file's SHA-256 and what stat says of it (size, mtime, ctime, inode): the sweep hashes a
    /// published file again only when its stat has changed.
    static func identity(of path: RawPath) throws(PipelineError) -> (sha256: String, stat: String) {
        guard let stamp = statStamp(path) else { throw PipelineError("cannot stat \(path.display)", exitCode: 3) }
        do {
            let source = try FileSource(pathBytes: path.bytes, followLinks: false)
            return (try source.sha256(), stamp)
        } catch { throw PipelineError("cannot read \(path.display): \(error)", exitCode: 3) }
    }

    /// Size, mtime, ctime and inode of a regular file with one link (nil for anything else).
    static func statStamp(_ path: RawPath) -> String? {
        var info = stat()
        guard path.withCString({ lstat($0, &info) }) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1 else {
            return nil
        }
        return "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_ctim.tv_sec)."
            + "\(info.st_ctim.tv_nsec):\(info.st_dev):\(info.st_ino)"
    }

    /// A link, FIFO, device or hard link found in the inbox (or the work folder): never read, moved to quarantine
    /// as it is with a reason. The move comes first and the event after it, so an entry that cannot be moved is
    /// recorded as `left` with a reason code (once, not on every run), never as quarantined.
    func deliverHostile(
        _ path: RawPath, place: Place, relative: [UInt8], why: String, asset: String, ledger: Ledger
    ) throws(PipelineError) -> ItemReport {
        do {
            try writeReason(
                folder: config.quarantine, asset: asset, original: Escape.display(relative),
                fingerprints: nil, reasons: [("not_a_regular_file", "it is \(why)")], records: [], now: Date())
            try Folders.move(place, to: config.quarantine + "/" + asset + ".unread")
        } catch {
            try? FileManager.default.removeItem(atPath: config.quarantine + "/" + asset + ".reason.json")
            if try ledger.lastEvent(asset: asset, kinds: ["left", "quarantined"])?.kind != "left" {
                try ledger.append(
                    pipeline: config.name, kind: "left", asset: asset, fileSHA256: nil, contentSHA256: nil,
                    detail: ["reasons": ["not_a_regular_file", "cannot_move"]])
            }
            return ItemReport(
                asset: asset, outcome: "left",
                reasons: ["it is \(why), and it cannot be moved to the quarantine (\(Runner.errnoCode(error)))"],
                records: [])
        }
        if try ledger.lastEvent(asset: asset, kinds: ["quarantined"]) == nil {
            try ledger.append(
                pipeline: config.name, kind: "quarantined", asset: asset, fileSHA256: nil, contentSHA256: nil,
                detail: ["reasons": ["not_a_regular_file"]])
        }
        return ItemReport(asset: asset, outcome: "quarantined", reasons: ["it is \(why)"], records: [])
    }

    /// The system's words for the last error only (never the paths a message may hold).
    static func errnoCode(_ error: Error) -> String {
        let text = "\(error)"
        if let colon = text.range(of: ": ", options: .backwards) { return String(text[colon.upperBound...]) }
        return "error"
    }

    /// A stable id for an entry that is never read: from its device, inode and path in the inbox.
    static func hostileAssetID(_ path: RawPath, relative: [UInt8]) -> String {
        var info = stat()
        _ = path.withCString { lstat($0, &info) }
        let key = Array("\(info.st_dev):\(info.st_ino):".utf8) + relative
        return String(sha256Hex(key).prefix(32))
    }

    /// `ASSET.reason.json` beside a quarantined original (or a withdrawn stranger): every reason, and what a person
    /// can do. The only place an original name is kept (escaped: control characters and bytes that are not UTF-8
    /// as `\n`, `\xNN`, so that it names the file exactly); the folder is ConsentGate's own (0700).
    func writeReason(
        folder: String, asset: String, original: String, fingerprints: Fingerprints?,
        reasons: [(code: String, message: String)], records: [String], now: Date, pending: Bool = false
    ) throws(PipelineError) {
        let report: [String: Any] = [
            "pending": pending,
            "pending_until": pending
                ? Ledger.timestamp(now.addingTimeInterval(config.pendingDays * 86_400)) as Any : NSNull(),
            "asset": asset, "pipeline": config.name, "channel": config.channel,
            "original_name": original, "quarantined_at": Ledger.timestamp(now),
            "file_sha256": fingerprints?.fileSHA256 ?? NSNull(),
            "content_sha256": fingerprints?.contentSHA256 ?? NSNull(),
            "records_matching": records,
            "reasons": reasons.map {
                ["code": $0.code, "message": $0.message, "what_to_do": Stages.advice(for: $0.code)]
            },
        ]
        do {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            let pending = try FileIO.writePending(
                Array(data), finalPath: folder + "/" + asset + ".reason.json", mode: 0o600)
            try pending.commit()
        } catch { throw PipelineError("cannot write the reason for \(asset): \(error)", exitCode: 3) }
    }

    /// SPEC §2.7: everything in the publish folder must be a live publication in the ledger (of any pipeline name:
    /// renaming one changes nothing), unchanged since it was published, under an authorization valid now on this
    /// channel. Anything else is withdrawn with a reason: a stranger, a file whose ledger event is gone, a file
    /// that changed, a revoked, expired or doubtful consent. A live publication of this pipeline whose file is gone
    /// from publish is recorded as retracted too. `inHand`: assets in the work folder, which recovery finishes.
    /// Returns the names it withdrew or could not withdraw, which a later sweep of the same run passes over.
    @discardableResult
    func sweep(
        registry: Registry, ledger: Ledger?, dryRun: Bool, now: Date, inHand: Set<String>, skip: Set<[UInt8]> = [],
        summary: inout RunSummary
    ) throws(PipelineError) -> Set<[UInt8]> {
        var handled = Set<[UInt8]>()
        let live = try ledger?.livePublications() ?? [:]
        var present = Set<String>()
        // A publish folder that cannot be listed is no reason to think its files are gone: stop, loudly.
        guard let names = Folders.rawEntries(of: config.publish) else {
            throw PipelineError(
                "cannot list the publish folder \(config.publish) to sweep it: \(String(cString: strerror(errno)))",
                exitCode: 3)
        }
        for raw in names where !skip.contains(raw) {
            let name = String(decoding: raw, as: UTF8.self)
            if dryRun && raw.first == UInt8(ascii: ".") && name.hasSuffix(".tmp") && name.contains(".cg-") { continue }
            if inHand.contains(String(name.prefix(32))) { continue }
            let path = RawPath(config.publish).appending(raw)
            guard Array(name.utf8) == raw, let publication = live[name] else {
                handled.insert(raw)
                try withdrawStranger(path, raw: raw, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
                continue
            }
            present.insert(name)
            var reasons: [(code: String, message: String)] = []
            if let stamp = Runner.statStamp(path) {
                if stamp != publication.publishedStat {
                    let sha = try? FileSource(pathBytes: path.bytes, followLinks: false).sha256()
                    if sha == nil || sha != publication.publishedSHA256 {
                        reasons.append(
                            ("changed_in_publish", "the file in publish is not the one ConsentGate published (its SHA-256 differs)"))
                    }
                }
            } else {
                reasons.append(("changed_in_publish", "the published name is no longer a regular file with one link"))
            }
            let decision = ConsentPolicy.decide(
                presentedSHA256: publication.contentSHA256, fileSHA256: publication.fileSHA256,
                channel: config.channel, registry: registry, now: now)
            if !decision.approved { reasons += decision.reasons.map { ($0.code, $0.description) } }
            if reasons.isEmpty { continue }
            handled.insert(raw)
            try withdraw(
                publication, from: path, reasons: reasons, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
        }
        for (name, publication) in live.sorted(by: { $0.key < $1.key })
        where publication.pipeline == config.name && !present.contains(name) && !inHand.contains(publication.asset)
            && !skip.contains(Array(name.utf8))
        {
            let reasons = [("missing_from_publish", "its file is gone from the publish folder (removed by someone)")]
            handled.insert(Array(name.utf8))
            try withdraw(
                publication, from: nil, reasons: reasons, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
        }
        return handled
    }

    /// Takes a publication offline: moved to `retracted`, or where that fails deleted from publish (its original
    /// stays in the archive); only when even that fails is it left (exit 3) with a loud reason.
    func withdraw(
        _ publication: Ledger.Publication, from path: RawPath?, reasons: [(code: String, message: String)],
        ledger: Ledger?, dryRun: Bool, now: Date, summary: inout RunSummary
    ) throws(PipelineError) {
        var report = ItemReport(
            asset: publication.asset, outcome: "retracted", reasons: reasons.map(\.message), records: publication.records)
        if dryRun || ledger == nil {
            summary.add(report)
            return
        }
        var how = "moved"
        if let path {
            do { try Folders.move(path, to: config.retracted + "/" + publication.name, allowCopy: true) } catch {
                if path.withCString({ unlink($0) }) == 0 {
                    how = "deleted"
                    report.reasons.append(
                        "it could not be moved to the retracted folder (\(Runner.errnoCode(error))), so it was deleted "
                            + "from publish; the original stays in the archive")
                } else {
                    report.outcome = "left"
                    report.reasons.append(
                        "STILL PUBLISHED: it can be neither moved to the retracted folder nor deleted (\(Runner.errnoCode(error)))")
                    summary.add(report)
                    return
                }
            }
        } else {
            how = "missing"
        }
        // Move first, then the event: after a kill the next sweep finds the file gone and records it.
        try ledger!.append(
            pipeline: config.name, kind: "retracted", asset: publication.asset, fileSHA256: publication.fileSHA256,
            contentSHA256: publication.contentSHA256,
            detail: ["reasons": reasons.map(\.code), "records": publication.records, "withdrawn": how])
        notifier?.send(
            "retracted", asset: publication.asset, publishedName: publication.name, records: publication.records,
            reasons: reasons.map(\.code))
        summary.add(report)
    }

    /// Something in publish that is no live publication: moved to `retracted` under a new opaque name, with a
    /// reason file there (0700) keeping its old name; deleted from publish if it cannot be moved.
    func withdrawStranger(
        _ path: RawPath, raw: [UInt8], ledger: Ledger?, dryRun: Bool, now: Date, summary: inout RunSummary
    ) throws(PipelineError) {
        let asset = "stranger-" + Folders.newAssetID()
        let why = "not a live publication in the ledger (placed in publish by hand, or its ledger event is gone)"
        var report = ItemReport(asset: asset, outcome: "retracted", reasons: [why], records: [])
        guard !dryRun, let ledger else {
            summary.add(report)
            return
        }
        let sha = try? FileSource(pathBytes: path.bytes, followLinks: false).sha256()
        var how = "moved"
        do {
            try writeReason(
                folder: config.retracted, asset: asset, original: Escape.display(raw), fingerprints: nil,
                reasons: [("not_a_publication", why)], records: [], now: now)
            try Folders.move(path, to: config.retracted + "/" + asset, allowCopy: true)
        } catch {
            var info = stat()
            let isFolder = path.withCString { lstat($0, &info) } == 0 && info.st_mode & S_IFMT == S_IFDIR
            let removed =
                isFolder
                ? (try? FileManager.default.removeItem(atPath: path.display)) != nil && !FileIO.exists(path.display)
                : path.withCString { unlink($0) } == 0
            if removed {
                how = "deleted"
                report.reasons.append("it could not be moved to the retracted folder, so it was deleted from publish")
            } else {
                report.outcome = "left"
                report.reasons.append("STILL IN PUBLISH: it can be neither moved nor deleted (\(Runner.errnoCode(error)))")
                summary.add(report)
                return
            }
        }
        try ledger.append(
            pipeline: config.name, kind: "retracted", asset: asset, fileSHA256: sha, contentSHA256: nil,
            detail: ["reasons": ["not_a_publication"], "withdrawn": how])
        notifier?.send("retracted", asset: asset, reasons: ["not_a_publication"])
        summary.add(report)
    }

    func wrap<T>(_ body: () throws(MediaError) -> T) throws(PipelineError) -> T {
        do { return try body() } catch { throw PipelineError("\(error)", exitCode: 3) }
    }
}

/// The run's ledger, once it is open, for work that starts before it (the notifier).
final class LedgerSlot: Sendable {
    let ledger = Mutex<Ledger?>(nil)
}

/// One instance at a time per pipeline (cron and a watcher): an exclusive flock on a file in the work folder.
/// The holder writes its process id and start time into the file; a run that cannot take the lock within
/// `wait` seconds gives up with exit 3, saying since when the other run has held it (runs never pile up).
final class PipelineLock: Sendable {
    let fd: Int32
    init(folder: String, wait: TimeInterval) throws(PipelineError) {
        fd = open(folder + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw PipelineError("cannot open the pipeline lock in \(folder)", exitCode: 3) }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw PipelineError("cannot lock the pipeline: \(String(cString: strerror(errno)))", exitCode: 3)
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
                    exitCode: 3)
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
