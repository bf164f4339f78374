import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import Synchronization

/// The sweep (SPEC §2.7): the publish folder against the ledger and today's records.
extension Runner {
    /// SPEC §2.7: everything in the publish folder must be a live publication in the ledger (of any pipeline name:
    /// renaming one changes nothing), unchanged since it was published, under an authorization valid now on this
    /// channel. Anything else is withdrawn with a reason: a stranger, a file whose ledger event is gone, a file
    /// that changed, a revoked, expired or doubtful consent. A live publication of this pipeline whose file is gone
    /// from publish is recorded as retracted too. `inHand`: assets in the work folder, which recovery finishes.
    /// Returns the names it withdrew or could not withdraw, which a later sweep of the same run passes over.
    @discardableResult
    func sweep(
        records: RunRegistry, ledger: (any LedgerStore)?, dryRun: Bool, now: Date, inHand: Set<String>, skip: Set<[UInt8]> = [],
        summary: inout RunSummary
    ) throws(PipelineError) -> Set<[UInt8]> {
        // Decided as of when the sweep starts (`Runner.clock`), not the run's start: its memory says when its
        // decisions were made, and one made seconds after the time it names is no memory to the next run.
        let now = dryRun ? now : Runner.decisionTime(after: now)
        // Several hosts: one sweep of a pipeline at a time; a host that cannot have it now leaves it to the other.
        let hosts = dryRun ? nil : ledger as? any HostCoordination
        if let hosts {
            guard try hosts.trySweepLock(pipeline: config.name) else {
                summary.warnings.append(
                    "the sweep of \(config.name) is running on another host now: this host skipped it this run")
                logger.info("sweep skipped: another host holds it", metadata: ["stage": "sweep"])
                return []
            }
        }
        defer { hosts?.releaseSweepLock(pipeline: config.name) }
        if hosts != nil { HostTestHooks.reached(.sweep) }
        var handled = Set<[UInt8]>()
        // Before the listing: what it counts as decided was published before the pass began.
        let memo = try SweepMemoUse(.sweep, records: records, config: config, ledger: ledger, dryRun: dryRun, now: now)
        // A publish folder that cannot be listed is no reason to think its files are gone: stop, loudly.
        guard let names = Folders.rawEntries(of: config.publish) else {
            throw PipelineError(
                "cannot list the publish folder \(config.publish) to sweep it: \(String(cString: strerror(errno)))",
                exitCode: 3, stage: .sweep)
        }
        // Looked up after the listing: a publication's event comes before its file, so every file listed that some
        // run (of any host) published is live here. A batch of names at a time (issue 28: memory stays flat).
        let lookup = try LiveLookup(ledger: ledger)
        let leftBefore = summary.left
        // Complete (its decisions may be remembered) unless something it refused is still in publish, or a live
        // publication was passed over (in hand, or skipped by an earlier sweep of this run and still live).
        var complete = inHand.isEmpty
        var start = 0
        while start < names.count {
            let batch = Array(names[start..<min(start + LiveLookup.batch, names.count)])
            start += batch.count
            let live = try lookup.publications(
                named: batch.filter { !skip.contains($0) }.map { String(decoding: $0, as: UTF8.self) })
            for raw in batch where !skip.contains(raw) {
                try sweepOne(
                    raw, live: live, lookup: lookup, hosts: hosts, records: records, ledger: ledger, dryRun: dryRun,
                    now: now, inHand: inHand, memo: memo, handled: &handled, summary: &summary)
            }
        }
        if complete, !skip.isEmpty,
            try !lookup.publications(named: skip.map { String(decoding: $0, as: UTF8.self) }).isEmpty
        {
            complete = false
        }
        // A live publication of this pipeline whose file is not in publish. Listed files were checked above (a file
        // withdrawn there is live no more), and a file there now is either one of them or published since. A name
        // in the listing (sorted: a binary search) was there a moment ago; only the others are looked for, and only
        // the rows of those not found are read (issue 28).
        var gone: [String] = []
        try lookup.forEachName(pipeline: config.name) { name throws(PipelineError) in
            let raw = Array(name.utf8)
            guard !Folders.sortedNames(names, contain: raw), !skip.contains(raw),
                !FileIO.exists(config.publish + "/" + name)
            else { return }
            gone.append(name)
        }
        var missing: [Ledger.Publication] = []
        for start in stride(from: 0, to: gone.count, by: LiveLookup.batch) {
            let found = try lookup.publications(named: Array(gone[start..<min(start + LiveLookup.batch, gone.count)]))
            missing += found.values.filter { $0.pipeline == config.name && !inHand.contains($0.asset) }
        }
        missing.sort { $0.name < $1.name }
        for publication in missing {
            let reasons = [Reason(.missingFromPublish, "its file is gone from the publish folder (removed by someone)")]
            handled.insert(Array(publication.name.utf8))
            try withdraw(
                publication, from: nil, reasons: reasons, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
        }
        if !dryRun {
            try memo.finish(ledger: ledger, complete: complete && summary.left == leftBefore)
        }
        return handled
    }

    /// Takes a publication offline: moved to `retracted`, or where that fails deleted from publish (its original
    /// stays in the archive); only when even that fails is it left (exit 3) with a loud reason.
    func withdraw(
        _ publication: Ledger.Publication, from path: RawPath?, reasons: [Reason],
        ledger: (any LedgerStore)?, dryRun: Bool, now: Date, summary: inout RunSummary
    ) throws(PipelineError) {
        var report = ItemReport(
            asset: publication.asset, outcome: .retracted, reasons: reasons.map(\.message), records: publication.records,
            codes: reasons.map(\.code.rawValue))
        if dryRun || ledger == nil {
            summary.add(report)
            return
        }
        try (ledger as? any HostCoordination)?.confirmSweepLock(pipeline: config.name)
        var how = "moved"
        if let path {
            do { try Folders.move(path, to: config.retracted + "/" + publication.name, allowCopy: true) } catch {
                // Deleted only while it is still the file ConsentGate published (what someone changed or put in its
                // place is not ours to delete).
                let ours = !reasons.contains { $0.code == .changedInPublish }
                if ours && path.withCString({ unlink($0) }) == 0 {
                    how = "deleted"
                    report.reasons.append(
                        "it could not be moved to the retracted folder (\(Runner.errnoCode(error))), so it was deleted "
                            + "from publish; the original stays in the archive")
                } else {
                    report.outcome = .left
                    report.reasons.append(
                        "STILL PUBLISHED: it can be neither moved to the retracted folder nor deleted (\(Runner.errnoCode(error)))")
                    logger.error("still in publish", metadata: ["stage": "sweep", "asset": "\(report.asset)"])
                    summary.add(report)
                    return
                }
            }
            DeliveryTestHooks.current.reached(.withdrawnOne)
        } else {
            how = "missing"
        }
        // Move first, then the event: after a kill the next sweep finds the file gone and records it.
        try ledger!.append(
            pipeline: config.name, kind: .retracted, asset: publication.asset, fileSHA256: publication.fileSHA256,
            contentSHA256: publication.contentSHA256,
            detail: [
                "reasons": reasons.map(\.code.rawValue), "records": publication.records, "withdrawn": how,
                "host": config.postgres != nil ? config.hostID : PipelineRecords.localHost,
            ])
        notifier?.send(
            "retracted", asset: publication.asset, publishedName: publication.name, records: publication.records,
            reasons: reasons.map(\.code.rawValue))
        logger.info("withdrawn", metadata: ["stage": "sweep", "asset": "\(report.asset)"])
        summary.add(report)
    }

    static func isSymbolicLink(_ path: RawPath) -> Bool {
        var info = stat()
        return path.withCString { lstat($0, &info) } == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    /// Something in publish that is no live publication: moved whole to `retracted` under a new opaque name, with a
    /// reason file there (0700) keeping its old name; left in place and reported (exit 3) if it cannot be moved,
    /// never deleted.
    func withdrawStranger(
        _ path: RawPath, raw: [UInt8], ledger: (any LedgerStore)?, dryRun: Bool, now: Date, summary: inout RunSummary
    ) throws(PipelineError) {
        let asset = "stranger-" + Folders.newAssetID()
        let why = "not a live publication in the ledger (placed in publish by hand, or its ledger event is gone)"
        var report = ItemReport(
            asset: asset, outcome: .retracted, reasons: [why], records: [], codes: [ReasonCode.notAPublication.rawValue])
        guard !dryRun, let ledger else {
            summary.add(report)
            return
        }
        try (ledger as? any HostCoordination)?.confirmSweepLock(pipeline: config.name)
        let sha = try? FileSource(pathBytes: path.bytes, followLinks: false).sha256()
        var how = "moved"
        do {
            try writeReason(
                folder: config.retracted, asset: asset, original: Escape.display(raw), fingerprints: nil,
                reasons: [Reason(.notAPublication, why)], records: [], now: now)
            try Folders.move(path, to: config.retracted + "/" + asset, allowCopy: true)
        } catch where Runner.isSymbolicLink(path) && path.withCString({ unlink($0) }) == 0 {
            // A symbolic link across filesystems cannot be moved; it holds no data (what it points to is untouched),
            // and left there it would keep publishing what it points to: the link alone goes.
            how = "link removed"
            report.reasons.append("a symbolic link that could not be moved: the link was removed, not what it points to")
        } catch {
            // Never removed: it is not ConsentGate's (a folder someone made, a file put there by hand). It stays
            // where it is, and every run says so until a person moves it (SPEC §6: the sweep removes only what it
            // published).
            unlinkat(AT_FDCWD, config.retracted + "/" + asset + ".reason.json", 0)
            report.outcome = .left
            report.reasons.append(
                "STILL IN PUBLISH: it could not be moved to the retracted folder (\(Runner.errnoCode(error))); it is "
                    + "not ConsentGate's, so it was not deleted: move it out of the publish folder by hand")
            logger.error("still in publish", metadata: ["stage": "sweep", "asset": "\(report.asset)"])
            summary.add(report)
            return
        }
        try ledger.append(
            pipeline: config.name, kind: .retracted, asset: asset, fileSHA256: sha, contentSHA256: nil,
            detail: ["reasons": [ReasonCode.notAPublication.rawValue], "withdrawn": how])
        notifier?.send("retracted", asset: asset, reasons: [ReasonCode.notAPublication.rawValue])
        logger.info("withdrawn", metadata: ["stage": "sweep", "asset": "\(report.asset)"])
        summary.add(report)
    }
}
