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
    public var quarantined = 0
    public var retracted = 0
    public var left = 0
    public var unsettled = 0
    /// Reports for the first `maxItems` files; the counts above cover every file.
    public var items: [ItemReport] = []
    public var itemsOmitted = 0
    public static let maxItems = 1000

    /// Counts an outcome and keeps its report while there is room.
    public mutating func add(_ item: ItemReport) {
        switch item.outcome {
        case "published": published += 1
        case "quarantined": quarantined += 1
        case "retracted": retracted += 1
        default: left += 1
        }
        if items.count < RunSummary.maxItems { items.append(item) } else { itemsOmitted += 1 }
    }

    mutating func merge(_ other: RunSummary) {
        published += other.published
        quarantined += other.quarantined
        retracted += other.retracted
        left += other.left
        for item in other.items {
            if items.count < RunSummary.maxItems { items.append(item) } else { itemsOmitted += 1 }
        }
        itemsOmitted += other.itemsOmitted
    }

    /// SPEC §6: 0 all published or nothing to do; 1 something quarantined or retracted; 3 a file could not
    /// be brought to an outcome.
    public var exitCode: Int32 { left > 0 ? 3 : (quarantined > 0 || retracted > 0 ? 1 : 0) }
}

/// One pass over a pipeline: recover what a crashed run left claimed, discover, claim, inspect, verify
/// consent, sanitize, deliver; then sweep what is published against today's records.
public final class Runner: Sendable {
    public let config: PipelineConfig
    let progress: (@Sendable (String) -> Void)?

    public init(config: PipelineConfig, progress: (@Sendable (String) -> Void)? = nil) {
        self.config = config
        self.progress = progress
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
    public func run(dryRun: Bool = false, now: Date = Date(), shouldStop: @Sendable () -> Bool = { false })
        throws(PipelineError)
        -> RunSummary
    {
        try config.prepare(create: !dryRun)
        // A dry run takes no lock and writes nothing; it only reads the inbox and the records.
        let lock = dryRun ? nil : try PipelineLock(folder: config.work)
        defer { lock?.release() }
        if !dryRun { removeStaleTemporaries() }
        let trust: TrustStore
        do { trust = try TrustStore.load(path: config.trust) } catch { throw PipelineError("\(config.file): \(error)") }
        let registry: Registry
        do { registry = try Registry.load(folder: config.authorizations, trust: trust, now: now) } catch {
            throw PipelineError("\(config.file): \(error)")
        }
        var summary = RunSummary(pipeline: config.name, dryRun: dryRun)
        let ledger = dryRun ? nil : try Ledger(path: config.ledger)
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
                    do {
                        let report =
                            dryRun
                            ? self.wouldDeliver(processed) : try self.deliver(processed, ledger: ledger!, now: now)
                        collected.withLock { $0.add(report) }
                    } catch {
                        processed.sanitized?.pending?.discard()
                        collected.withLock {
                            $0.add(
                                ItemReport(asset: processed.asset, outcome: "left", reasons: ["\(error)"], records: []))
                        }
                    }
                    self.progress?("\(number) file(s)")
                }
            }
        }

        // First what an interrupted run had claimed, then what has settled in the inbox.
        if !dryRun {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: config.work)) ?? []
            where !name.hasPrefix(".") {
                slots.wait()
                hand(name, RawPath(config.work + "/" + name), "(recovered after an interrupted run)")
            }
        }
        do {
            try Folders.discover(inbox: config.inbox, settle: config.settleSeconds, now: now) { entry in
                if shouldStop() { return false }
                switch entry {
                case .unsettled:
                    summary.unsettled += 1
                case .unreadable(_, let why):
                    summary.add(ItemReport(asset: "-", outcome: "left", reasons: [why], records: []))
                case .hostile(let path, let relative, let why):
                    let asset = Runner.hostileAssetID(path, relative: relative)
                    if dryRun {
                        summary.add(ItemReport(asset: asset, outcome: "quarantined", reasons: [why], records: []))
                    } else {
                        summary.add(
                            try deliverHostile(path, relative: relative, why: why, asset: asset, ledger: ledger!))
                    }
                case .file(let path, let relative, _):
                    slots.wait()
                    if dryRun {
                        hand(Folders.newAssetID(), path, String(decoding: relative, as: UTF8.self))
                        return true
                    }
                    let asset = Folders.newAssetID()
                    let target = config.work + "/" + asset
                    // The claim: an atomic rename; if another instance took the file first, it is simply gone.
                    guard path.withCString({ rename($0, target) }) == 0 else {
                        slots.signal()
                        return true
                    }
                    Folders.syncFolder(target)
                    do {
                        try ledger!.append(
                            pipeline: config.name, kind: "claimed", asset: asset, fileSHA256: nil, contentSHA256: nil,
                            detail: ["source_path_sha256": sha256Hex(relative)], now: now)
                    } catch {
                        // The file stays claimed in the work folder; the next run recovers it.
                        slots.signal()
                        throw error
                    }
                    hand(asset, RawPath(target), String(decoding: relative, as: UTF8.self))
                }
                return true
            }
        } catch {
            group.wait()
            throw (error as? PipelineError) ?? PipelineError("\(error)")
        }
        group.wait()
        summary.merge(collected.withLock { $0 })
        try sweep(registry: registry, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
        return summary
    }

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

    /// Publish + archive, or quarantine with a reason. Crash-safe: every step can be repeated after a kill.
    func deliver(_ item: Processed, ledger: Ledger, now: Date) throws(PipelineError) -> ItemReport {
        if let why = item.writeFailure {
            throw PipelineError("the published copy of \(item.asset) cannot be written: \(why)")
        }
        let ext = Stages.fileExtension(item.format)
        let publishedName = item.asset + "." + ext
        let publishedPath = config.publish + "/" + publishedName
        // A publish file left by an interrupted run is finished, whatever is decided now: the sweep retracts it
        // if consent has gone since. This keeps a file from ending both published and quarantined.
        let alreadyPublished = FileIO.exists(publishedPath)
        // Likewise a quarantine the ledger already records is finished as recorded, even if consent arrived since:
        // the picture can be dropped again, and the ledger never says both.
        let recordedQuarantine = try ledger.lastEvent(asset: item.asset, kinds: ["quarantined"])
        let alreadyQuarantined = !alreadyPublished && recordedQuarantine != nil
        let approved = item.decision?.approved == true && item.reasons.isEmpty && item.sanitized != nil
        if alreadyPublished || (approved && !alreadyQuarantined) {
            if alreadyPublished {
                item.sanitized?.pending?.discard()
            } else {
                guard let pending = item.sanitized?.pending else {
                    throw PipelineError("no verified copy of \(item.asset) was written to publish")
                }
                try wrap { () throws(MediaError) in try pending.commit() }
            }
            if try ledger.lastEvent(asset: item.asset, kinds: ["published"]) == nil {
                try ledger.append(
                    pipeline: config.name, kind: "published", asset: item.asset,
                    fileSHA256: item.fingerprints?.fileSHA256,
                    contentSHA256: item.fingerprints?.contentSHA256,
                    detail: ["published_name": publishedName, "records": item.decision?.usedRecords ?? []],
                    publication: (config.channel, publishedName, item.decision?.usedRecords ?? []), now: now)
            }
            try Folders.move(item.claimed, to: config.archive + "/" + item.asset + "." + ext, allowCopy: true)
            return ItemReport(
                asset: item.asset, outcome: "published", reasons: [], records: item.decision?.usedRecords ?? [],
                publishedName: publishedName)
        }
        item.sanitized?.pending?.discard()
        let reasons = item.reasons.isEmpty ? [(code: "unknown", message: "not approved")] : item.reasons
        // After a kill the reason already written (with the original name) is kept.
        if !(alreadyQuarantined && FileIO.exists(config.quarantine + "/" + item.asset + ".reason.json")) {
            try writeReason(
                asset: item.asset, original: item.original, fingerprints: item.fingerprints, reasons: reasons,
                records: item.decision?.matchingRecords ?? [], now: now)
        }
        // The ledger first, then the move: a kill between them leaves the original in the work folder, and the
        // next run finishes the move without a second event. The other order could lose the event for good.
        if try ledger.lastEvent(asset: item.asset, kinds: ["quarantined"]) == nil {
            try ledger.append(
                pipeline: config.name, kind: "quarantined", asset: item.asset,
                fileSHA256: item.fingerprints?.fileSHA256,
                contentSHA256: item.fingerprints?.contentSHA256,
                detail: ["reasons": reasons.map(\.code), "records": item.decision?.matchingRecords ?? []], now: now)
        }
        try Folders.move(item.claimed, to: config.quarantine + "/" + item.asset + "." + ext, allowCopy: true)
        return ItemReport(
            asset: item.asset, outcome: "quarantined", reasons: reasons.map(\.message),
            records: item.decision?.matchingRecords ?? [])
    }

    func deliverHostile(_ path: RawPath, relative: [UInt8], why: String, asset: String, ledger: Ledger)
        throws(PipelineError) -> ItemReport
    {
        // Event first, then the move (see deliver); the asset id is derived from the entry itself, so a rerun
        // after a kill finds the same id and does not record it twice.
        if try ledger.lastEvent(asset: asset, kinds: ["quarantined"]) == nil {
            try ledger.append(
                pipeline: config.name, kind: "quarantined", asset: asset, fileSHA256: nil, contentSHA256: nil,
                detail: ["reasons": ["not_a_regular_file"]])
        }
        do {
            try writeReason(
                asset: asset, original: String(decoding: relative, as: UTF8.self), fingerprints: nil,
                reasons: [("not_a_regular_file", "it is \(why)")], records: [], now: Date())
            try Folders.move(path, to: config.quarantine + "/" + asset + ".unread", allowCopy: false)
        } catch {
            try? FileManager.default.removeItem(atPath: config.quarantine + "/" + asset + ".reason.json")
            try ledger.append(
                pipeline: config.name, kind: "left", asset: asset, fileSHA256: nil, contentSHA256: nil,
                detail: ["reason": "it is \(why), and it cannot be moved: \(error)"])
            return ItemReport(
                asset: asset, outcome: "left", reasons: ["it is \(why), and it cannot be moved"], records: [])
        }
        return ItemReport(asset: asset, outcome: "quarantined", reasons: ["it is \(why)"], records: [])
    }

    /// A stable id for an entry that is never read: from its device, inode and path in the inbox.
    static func hostileAssetID(_ path: RawPath, relative: [UInt8]) -> String {
        var info = stat()
        _ = path.withCString { lstat($0, &info) }
        let key = Array("\(info.st_dev):\(info.st_ino):".utf8) + relative
        return String(sha256Hex(key).prefix(32))
    }

    /// `ASSET.reason.json` beside a quarantined original: every reason, and what a person can do.
    func writeReason(
        asset: String, original: String, fingerprints: Fingerprints?, reasons: [(code: String, message: String)],
        records: [String], now: Date
    ) throws(PipelineError) {
        let report: [String: Any] = [
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
                Array(data), finalPath: config.quarantine + "/" + asset + ".reason.json", mode: 0o600)
            try pending.commit()
        } catch { throw PipelineError("cannot write the reason for \(asset): \(error)") }
    }

    /// Re-checks every live publication against today's records; retracts what is no longer covered.
    func sweep(registry: Registry, ledger: Ledger?, dryRun: Bool, now: Date, summary: inout RunSummary)
        throws(PipelineError)
    {
        var existing = ledger
        if existing == nil && FileIO.exists(config.ledger) { existing = try Ledger(path: config.ledger) }
        guard let ledger = existing else { return }
        for publication in try ledger.livePublications(pipeline: config.name) {
            let decision = ConsentPolicy.decide(
                contentSHA256: publication.contentSHA256, fileSHA256: publication.fileSHA256, channel: config.channel,
                registry: registry, now: now)
            if decision.approved { continue }
            let reasons = decision.reasons.map(\.description)
            let retracted = ItemReport(
                asset: publication.asset, outcome: "retracted", reasons: reasons, records: publication.records)
            if dryRun {
                summary.add(retracted)
                continue
            }
            // One publication that cannot be withdrawn must not keep the others published: report it (exit 3)
            // and go on. Move first, then the event: after a kill the next sweep finds the file gone and records it.
            do {
                let source = config.publish + "/" + publication.name
                if FileIO.exists(source) {
                    try Folders.move(RawPath(source), to: config.retracted + "/" + publication.name, allowCopy: true)
                }
                try ledger.append(
                    pipeline: config.name, kind: "retracted", asset: publication.asset,
                    fileSHA256: publication.fileSHA256, contentSHA256: publication.contentSHA256,
                    detail: ["reasons": decision.reasons.map(\.code), "records": publication.records], now: now)
                summary.add(retracted)
            } catch {
                summary.add(
                    ItemReport(
                        asset: publication.asset, outcome: "left",
                        reasons: [
                            "consent is gone (\(reasons.joined(separator: "; "))) but it could not be retracted: \(error)"
                        ],
                        records: publication.records))
            }
        }
    }

    func wrap<T>(_ body: () throws(MediaError) -> T) throws(PipelineError) -> T {
        do { return try body() } catch { throw PipelineError("\(error)") }
    }
}

/// One instance at a time per pipeline (cron and a watcher): an exclusive flock on a file in the work folder.
final class PipelineLock: Sendable {
    let fd: Int32
    init(folder: String) throws(PipelineError) {
        fd = open(folder + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PipelineError("cannot open the pipeline lock in \(folder)") }
        guard flock(fd, LOCK_EX) == 0 else {
            close(fd)
            throw PipelineError("cannot lock the pipeline")
        }
    }
    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
