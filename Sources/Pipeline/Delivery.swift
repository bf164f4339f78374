import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import Synchronization

/// Delivery (SPEC §2.6): publish and archive, or quarantine with a reason; one ledger event each, crash-safe.
extension Runner {
    func wouldDeliver(_ item: Processed) -> ItemReport {
        let publish = item.decision?.approved == true && item.sanitized != nil && item.reasons.isEmpty
        return ItemReport(
            asset: item.asset, outcome: publish ? .published : .quarantined, reasons: item.reasons.map(\.message),
            records: item.decision?.usedRecords ?? [])
    }

    /// How many runs in a row may leave a file for an I/O error before it is quarantined with that error.
    static let maxFailures = 3

    /// Delivers a batch together (group commit, see `deliverTogether`), or, for each file whose delivery fails (a
    /// full disk, an unwritable folder), leaves it claimed for the next run; the third failure in a row quarantines
    /// it with the error instead of retrying it forever. With several hosts each file is delivered on its own, under
    /// its picture's lock (`deliverOnce`).
    func deliverOrLeave(_ items: [Processed], ledger: any LedgerStore, now: Date) -> [ItemReport] {
        let results: [Result<ItemReport, PipelineError>]
        if ledger is any HostCoordination {
            results = items.map { item in
                do throws(PipelineError) { return .success(try deliverOnce(item, ledger: ledger, now: now)) } catch {
                    return .failure(error)
                }
            }
        } else {
            results = deliverTogether(items, ledger: ledger, now: now)
        }
        return zip(items, results).map { item, result in
            switch result {
            case .success(let report):
                if item.writeFailure == nil { forgetFailures(of: item.asset, ledger: ledger) }
                return report
            case .failure(let error): return leave(item, after: error, ledger: ledger, now: now)
            }
        }
    }

    /// One file's delivery, as a batch of one.
    func deliverOrLeave(_ item: Processed, ledger: any LedgerStore, now: Date) -> ItemReport {
        deliverOrLeave([item], ledger: ledger, now: now)[0]
    }

    /// Forgets the failures counted for a delivered file (a read first: most files have none, and a write
    /// transaction per file would cost a sync each).
    private func forgetFailures(of asset: String, ledger: any LedgerStore) {
        let key = "work:" + asset
        if (try? ledger.observation(key)) ?? nil != nil { try? ledger.observe(key, nil) }
    }

    /// A file whose delivery failed: left claimed for the next run, or quarantined with the error at the third
    /// failure in a row.
    private func leave(_ item: Processed, after error: PipelineError, ledger: any LedgerStore, now: Date) -> ItemReport {
        let key = "work:" + item.asset
        item.sanitized?.pending?.discard()
        let failures = ((try? ledger.observation(key))??.failures ?? 0) + 1
        if failures >= Runner.maxFailures {
            var failed = item
            failed.reasons.insert(
                Reason(.ioError, "left \(failures) runs in a row for the same kind of error, now quarantined: \(error)"),
                at: 0)
            failed.decision = nil
            failed.sanitized = nil
            failed.writeFailure = nil
            if let report = try? deliver(failed, ledger: ledger, now: now) {
                try? ledger.observe(key, nil)
                return report
            }
        }
        try? ledger.observe(key, Ledger.Observation(size: 0, mtime: "", firstSeen: now, failures: failures))
        logger.warning(
            "left for the next run", metadata: ["stage": "deliver", "asset": "\(item.asset)", "run": "\(failures)"])
        return ItemReport(
            asset: item.asset, outcome: .left, reasons: ["\(error) (run \(failures) of \(Runner.maxFailures))"],
            records: [])
    }

    /// With several hosts, a picture is decided by one host at a time, against what is live now in the shared
    /// ledger (not as of this run's start), so that two hosts never publish one picture twice.
    func deliverOnce(_ item: Processed, ledger: any LedgerStore, now: Date) throws(PipelineError) -> ItemReport {
        guard let hosts = ledger as? any HostCoordination, item.decision?.approved == true,
            let content = item.fingerprints?.presentedSHA256
        else { return try deliver(item, ledger: ledger, now: now) }
        return try hosts.withPictureLock(pipeline: config.name, content: content) { () throws(PipelineError) in
            try hosts.confirmClaim(asset: item.asset)
            let liveNow = try ledger.livePublications().values.contains {
                $0.pipeline == config.name && $0.contentSHA256 == content
            }
            live.withLock { set in
                if liveNow { set.insert(content) } else { set.remove(content) }
            }
            return try deliver(item, ledger: ledger, now: now)
        }
    }

    /// Publish + archive, or quarantine with a reason, for one file (a batch of one).
    func deliver(_ item: Processed, ledger: any LedgerStore, now: Date) throws(PipelineError) -> ItemReport {
        try deliverTogether([item], ledger: ledger, now: now)[0].get()
    }

    /// Group commit (issue 14): the files that reached delivery together are delivered step by step as one batch.
    /// Every file is planned first (from the ledger and the folders, as `plan` says), then:
    ///   1. the verified copies are made durable, in parallel (their writers never sync), and reason files written;
    ///   2. the copies are renamed into publish, and the publish folder is synced once;
    ///   3. every event of the batch is appended in ONE ledger transaction;
    ///   4. the originals are moved to archive or quarantine, and each destination folder is synced once.
    /// Crash-safe like one file at a time (SPEC §1, §7), step by step: a kill before 2 leaves temporaries (removed by
    /// the next run) and the originals in work (processed again); between 2 and 3, copies in publish that the ledger
    /// does not know yet (the next run finds them, records them with their hash and finishes); between 3 and 4,
    /// recorded files whose originals are still in work (the next run only moves them, no second event). A file
    /// whose step fails alone fails alone (`.failure`, left for the next run); a failed ledger transaction fails
    /// every file that needed an event in it.
    func deliverTogether(_ items: [Processed], ledger: any LedgerStore, now: Date) -> [Result<ItemReport, PipelineError>]
    {
        var plans: [Planned?] = []
        var failures: [PipelineError?] = Array(repeating: nil, count: items.count)
        // Copies published by this batch, by content, so that a second copy in the same batch is a duplicate of it.
        var inBatch: [String: (asset: String, name: String)] = [:]
        for (index, item) in items.enumerated() {
            do throws(PipelineError) { plans.append(try plan(item, ledger: ledger, inBatch: &inBatch)) } catch {
                plans.append(nil)
                failures[index] = error
            }
        }
        // Copies renamed into publish by this batch: live from then on, whatever fails after.
        var renamedIndices: Set<Int> = []
        func fail(_ index: Int, _ error: PipelineError) {
            guard failures[index] == nil else { return }
            failures[index] = error
            // A copy that never reached publish does not make its picture live; one that did stays live (the next
            // run records it), so that no second copy of the picture is published beside it in this run.
            guard let plan = plans[index], plan.action == .publish, !plan.alreadyPublished,
                !renamedIndices.contains(index)
            else { return }
            if plan.claimsContent, let content = items[index].fingerprints?.presentedSHA256 {
                live.withLock { _ = $0.remove(content) }
            }
            // A second copy of this picture in the batch was planned as its duplicate: with no first copy
            // published, it is not one. It is left for the next run too (its copy was dropped as a duplicate's).
            for other in items.indices where plans[other]?.duplicateOfBatch == items[index].asset {
                fail(
                    other,
                    PipelineError(
                        "the first copy of its picture in this batch (\(items[index].asset)) could not be published: \(error)",
                        exitCode: 3, stage: .deliver, asset: items[other].asset))
            }
        }
        func alive(_ index: Int) -> Planned? { failures[index] == nil ? plans[index] : nil }
        let testHooks = DeliveryTestHooks.current

        // 1. Durable copies (in parallel: each fsync waits on the disk, not on the CPU) and reason files.
        let toSync = items.indices.filter { alive($0)?.action == .publish && items[$0].sanitized?.pending != nil }
        let syncErrors = Mutex([Int: MediaError]())
        DispatchQueue.concurrentPerform(iterations: toSync.count) { position in
            let index = toSync[position]
            do throws(MediaError) { try items[index].sanitized!.pending!.sync() } catch {
                syncErrors.withLock { $0[index] = error }
            }
        }
        for (index, error) in syncErrors.withLock({ $0 }) {
            fail(index, PipelineError("cannot sync the copy of \(items[index].asset): \(error)", exitCode: 3, stage: .deliver, asset: items[index].asset))
        }
        for index in items.indices {
            guard let plan = alive(index), plan.action == .quarantine, plan.writesReason else { continue }
            let item = items[index]
            do throws(PipelineError) {
                try writeReason(
                    folder: config.quarantine, asset: item.asset, original: item.original, fingerprints: item.fingerprints,
                    reasons: plan.reasons, records: item.decision?.matchingRecords ?? [], now: now,
                    pending: plan.pendingQuarantine)
            } catch { fail(index, error) }
        }
        testHooks.reached(.synced, batch: items.count)

        // 2. Into publish, then one sync of the folder.
        var renamed = false
        for index in items.indices {
            guard alive(index)?.action == .publish, let pending = items[index].sanitized?.pending else { continue }
            do throws(MediaError) {
                try pending.rename()
                renamed = true
                renamedIndices.insert(index)
            } catch {
                fail(index, PipelineError("cannot publish \(items[index].asset): \(error)", exitCode: 3, stage: .deliver, asset: items[index].asset))
            }
            testHooks.reached(.renamedOne, batch: items.count)
        }
        if renamed { FileIO.syncFolder(of: config.publish + "/.") }
        testHooks.reached(.published, batch: items.count)

        // 3. The batch's events, in one transaction.
        var events: [(index: Int, event: NewLedgerEvent)] = []
        for index in items.indices {
            guard let plan = alive(index) else { continue }
            let item = items[index]
            do throws(PipelineError) {
                if let event = try self.event(for: plan, item: item) {
                    events.append((index, event))
                }
            } catch { fail(index, error) }
        }
        if !events.isEmpty {
            do throws(PipelineError) {
                try ledger.append(batch: events.map(\.event))
                for (index, event) in events { notify(event, plan: plans[index]!, item: items[index]) }
            } catch {
                for (index, _) in events { fail(index, error) }
            }
        }
        testHooks.reached(.recorded, batch: items.count)

        // 4. The originals, then one sync of each folder they went to.
        var movedInto: Set<String> = []
        for index in items.indices {
            guard let plan = alive(index) else { continue }
            let item = items[index]
            let folder = plan.action == .quarantine ? config.quarantine : config.archive
            do throws(PipelineError) {
                try Folders.move(item.claimed, to: folder + "/" + item.asset + "." + plan.ext, allowCopy: true, syncFolder: false)
                movedInto.insert(folder)
            } catch { fail(index, error) }
            testHooks.reached(.movedOne, batch: items.count)
        }
        for folder in movedInto.sorted() { FileIO.syncFolder(of: folder + "/.") }

        return items.indices.map { index in
            if let error = failures[index] { return .failure(error) }
            let plan = plans[index]!
            let item = items[index]
            if plan.releasing || plan.kind == .released, plan.action != .quarantine {
                // Its quarantine is over: the reason file goes with it.
                try? FileManager.default.removeItem(atPath: config.quarantine + "/" + item.asset + ".reason.json")
            }
            switch plan.action {
            case .duplicate:
                return .success(
                    ItemReport(
                        asset: item.asset, outcome: .duplicate,
                        reasons: [
                            "the same picture is already published as \(plan.firstName ?? "another file"): archived, not published twice"
                        ],
                        records: [], publishedName: plan.firstName, codes: [ReasonCode.duplicate.rawValue]))
            case .publish:
                return .success(
                    ItemReport(
                        asset: item.asset, outcome: plan.kind == .released ? .released : .published, reasons: [],
                        records: item.decision?.usedRecords ?? [], publishedName: plan.publishedName))
            case .quarantine:
                return .success(
                    ItemReport(
                        asset: item.asset, outcome: .quarantined, reasons: plan.reasons.map(\.message),
                        records: item.decision?.matchingRecords ?? [], codes: plan.reasons.map(\.code.rawValue)))
            }
        }
    }

    /// What delivering one file takes, decided before anything moves.
    struct Planned {
        enum Action { case publish, duplicate, quarantine }
        var action: Action
        var ext: String
        /// A pending quarantine taken back for release (its newest decision is `release_started`).
        var releasing: Bool
        // Publish:
        var publishedName = ""
        var publishedPath = ""
        /// The newest published/released event of this asset (an interrupted run may have recorded it already).
        var recorded: LedgerEvent? = nil
        var kind: EventKind = .published
        /// This plan put its content into the live set (taken out again when it fails before it is published).
        var claimsContent = false
        /// The copy an interrupted run left in publish is there already (it stays live whatever fails now).
        var alreadyPublished = false
        // Duplicate:
        var firstName: String? = nil
        var firstAsset: String? = nil
        /// The asset of the copy in this same batch that this one duplicates (nil: one already live before it).
        var duplicateOfBatch: String? = nil
        var duplicateRecorded = false
        // Quarantine:
        var reasons: [Reason] = []
        var writesReason = false
        var alreadyQuarantined = false
        var pendingQuarantine = false
    }

    /// Publish + archive, or quarantine with a reason: which, and what is done already (crash-safe: every step can
    /// be repeated after a kill).
    func plan(_ item: Processed, ledger: any LedgerStore, inBatch: inout [String: (asset: String, name: String)])
        throws(PipelineError) -> Planned
    {
        let ext = item.format.fileExtension
        let publishedName = item.asset + "." + ext
        let publishedPath = config.publish + "/" + publishedName
        if let why = item.writeFailure {
            // A copy an interrupted run left in publish stays live while this file waits for the next run.
            if FileIO.exists(publishedPath), let content = item.fingerprints?.presentedSHA256 {
                live.withLock { _ = $0.insert(content) }
            }
            throw PipelineError("the published copy of \(item.asset) cannot be written: \(why)", exitCode: 3, stage: .deliver, asset: item.asset)
        }
        // A publish file left by an interrupted run is finished, whatever is decided now: the sweep at the end of
        // this run retracts it if consent has gone since. This keeps a file from ending both published and
        // quarantined.
        let alreadyPublished = FileIO.exists(publishedPath)
        // Likewise a quarantine the ledger already records is finished as recorded, even if consent arrived since:
        // the picture can be dropped again, and the ledger never says both.
        // (A pending quarantine taken back for release has a newer `release_started` event.)
        let lastDecision = try ledger.lastEvent(asset: item.asset, kinds: [.quarantined, .releaseStarted])
        let alreadyQuarantined = !alreadyPublished && lastDecision?.eventKind == .quarantined
        let releasing = lastDecision?.eventKind == .releaseStarted
        let approved = item.decision?.approved == true && item.reasons.isEmpty && item.sanitized != nil
        var plan = Planned(action: .quarantine, ext: ext, releasing: releasing)
        // One picture, one publication: a second copy of a picture live in publish is archived, not published.
        if approved && !alreadyPublished && !alreadyQuarantined, let content = item.fingerprints?.presentedSHA256,
            live.withLock({ $0.contains(content) })
        {
            item.sanitized?.pending?.discard()
            plan.action = .duplicate
            if let first = inBatch[content] {
                plan.firstName = first.name
                plan.firstAsset = first.asset
                plan.duplicateOfBatch = first.asset
            } else {
                let first = try ledger.livePublications().values.first {
                    $0.pipeline == config.name && $0.contentSHA256 == content
                }
                plan.firstName = first?.name
                plan.firstAsset = first?.asset
            }
            plan.duplicateRecorded = try ledger.lastEvent(asset: item.asset, kinds: [.duplicate]) != nil
            return plan
        }
        if alreadyPublished || (approved && !alreadyQuarantined) {
            if item.sanitized?.pending == nil && !alreadyPublished {
                throw PipelineError("no verified copy of \(item.asset) was written to publish", exitCode: 3, stage: .deliver, asset: item.asset)
            }
            plan.action = .publish
            plan.alreadyPublished = alreadyPublished
            plan.publishedName = publishedName
            plan.publishedPath = publishedPath
            plan.recorded = try ledger.lastEvent(asset: item.asset, kinds: [.published, .released])
            plan.kind = releasing || plan.recorded?.eventKind == .released ? .released : .published
            if let content = item.fingerprints?.presentedSHA256 {
                plan.claimsContent = live.withLock { $0.insert(content).inserted }
                inBatch[content] = (item.asset, publishedName)
            }
            return plan
        }
        item.sanitized?.pending?.discard()
        plan.reasons = item.reasons.isEmpty ? [Reason(.unknown, "not approved")] : item.reasons
        plan.alreadyQuarantined = alreadyQuarantined
        // After a kill the reason already written (with the original name) is kept.
        plan.writesReason = !(alreadyQuarantined && FileIO.exists(config.quarantine + "/" + item.asset + ".reason.json"))
        // Pending: every reason is one a new record can cure; each run decides it again for `pending_days`.
        // A record refused only because it is dated in the future (this host's clock was behind) is cured by the
        // clock: such a quarantine is pending too, and released once the records verify and approve it.
        plan.pendingQuarantine = plan.reasons.allSatisfy {
            $0.code.isCurable || $0.code == .invalidRecord && $0.message.contains("in the future")
        }
        return plan
    }

    /// The event a planned delivery records, or nil when the ledger has it already (an interrupted run's).
    private func event(for plan: Planned, item: Processed) throws(PipelineError) -> NewLedgerEvent? {
        switch plan.action {
        case .duplicate:
            guard !plan.duplicateRecorded else { return nil }
            return try NewLedgerEvent(
                pipeline: config.name, kind: .duplicate, asset: item.asset, fileSHA256: item.fingerprints?.fileSHA256,
                contentSHA256: item.fingerprints?.presentedSHA256,
                detail: ["published_name": plan.firstName ?? "", "of": plan.firstAsset ?? ""])
        case .publish:
            // The verified copy's hash as this process read it after verification, or read again here (a copy an
            // interrupted run left). The sweep compares it with the file in publish on every run.
            let found: (sha256: String, stat: String)
            if item.sanitized?.pending != nil, let sha = item.sanitized?.outputSHA256,
                let stamp = Runner.statStamp(RawPath(plan.publishedPath))
            {
                found = (sha, stamp)
            } else {
                found = try Runner.identity(of: RawPath(plan.publishedPath))
            }
            if let recorded = plan.recorded, recorded.detail.contains(found.sha256) { return nil }
            return try NewLedgerEvent(
                pipeline: config.name, kind: plan.kind, asset: item.asset, fileSHA256: item.fingerprints?.fileSHA256,
                contentSHA256: item.fingerprints?.presentedSHA256,
                detail: [
                    "published_name": plan.publishedName, "records": item.decision?.usedRecords ?? [],
                    "record_keys": item.decision?.usedKeys ?? [], "channel": config.channel,
                    "published_sha256": found.sha256, "published_stat": found.stat, "people": item.peopleDetail,
                ])
        case .quarantine:
            // The ledger first, then the move: a kill between them leaves the original in the work folder, and the
            // next run finishes the move without a second event. The other order could lose the event for good.
            guard !plan.alreadyQuarantined else { return nil }
            return try NewLedgerEvent(
                pipeline: config.name, kind: .quarantined, asset: item.asset, fileSHA256: item.fingerprints?.fileSHA256,
                contentSHA256: item.fingerprints?.presentedSHA256,
                detail: [
                    "reasons": plan.reasons.map(\.code.rawValue), "records": item.decision?.matchingRecords ?? [],
                    "pending": plan.pendingQuarantine, "people": item.peopleDetail,
                ])
        }
    }

    /// The notice for an event the ledger has just taken.
    private func notify(_ event: NewLedgerEvent, plan: Planned, item: Processed) {
        switch plan.action {
        case .duplicate: notifier?.send("duplicate", asset: item.asset, publishedName: plan.firstName)
        case .publish:
            notifier?.send(
                event.kind.rawValue, asset: item.asset, publishedName: plan.publishedName,
                records: item.decision?.usedRecords ?? [])
        case .quarantine:
            notifier?.send(
                "quarantined", asset: item.asset, records: item.decision?.matchingRecords ?? [],
                reasons: plan.reasons.map(\.code.rawValue))
        }
    }

    /// A published file's SHA-256 and what stat says of it (size, mtime, ctime, inode): the sweep hashes a
    /// published file again only when its stat has changed.
    static func identity(of path: RawPath) throws(PipelineError) -> (sha256: String, stat: String) {
        guard let stamp = statStamp(path) else { throw PipelineError("cannot stat \(path.display)", exitCode: 3, stage: .deliver) }
        do {
            let source = try FileSource(pathBytes: path.bytes, followLinks: false)
            return (try source.sha256(), stamp)
        } catch { throw PipelineError("cannot read \(path.display): \(error)", exitCode: 3, stage: .deliver) }
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
        _ path: RawPath, place: Place, relative: [UInt8], why: String, asset: String, ledger: any LedgerStore
    ) throws(PipelineError) -> ItemReport {
        do {
            try writeReason(
                folder: config.quarantine, asset: asset, original: Escape.display(relative),
                fingerprints: nil, reasons: [Reason(.notARegularFile, "it is \(why)")], records: [], now: Date())
            try Folders.move(place, to: config.quarantine + "/" + asset + ".unread")
        } catch {
            try? FileManager.default.removeItem(atPath: config.quarantine + "/" + asset + ".reason.json")
            if try ledger.lastEvent(asset: asset, kinds: [.left, .quarantined])?.eventKind != .left {
                try ledger.append(
                    pipeline: config.name, kind: .left, asset: asset, fileSHA256: nil, contentSHA256: nil,
                    detail: ["reasons": ["not_a_regular_file", "cannot_move"]])
            }
            return ItemReport(
                asset: asset, outcome: .left,
                reasons: ["it is \(why), and it cannot be moved to the quarantine (\(Runner.errnoCode(error)))"],
                records: [])
        }
        if try ledger.lastEvent(asset: asset, kinds: [.quarantined]) == nil {
            try ledger.append(
                pipeline: config.name, kind: .quarantined, asset: asset, fileSHA256: nil, contentSHA256: nil,
                detail: ["reasons": ["not_a_regular_file"]])
        }
        return ItemReport(
            asset: asset, outcome: .quarantined, reasons: ["it is \(why)"], records: [],
            codes: [ReasonCode.notARegularFile.rawValue])
    }

    /// The system's words for the last error only (never the paths a message may hold).
    static func errnoCode(_ error: Error) -> String {
        let text = "\(error)"
        if let colon = text.range(of: ": ", options: .backwards) { return String(text[colon.upperBound...]) }
        return "error"
    }

    /// `ASSET.reason.json` beside a quarantined original (or a withdrawn stranger): every reason, and what a person
    /// can do. The only place an original name is kept (escaped: control characters and bytes that are not UTF-8
    /// as `\n`, `\xNN`, so that it names the file exactly); the folder is ConsentGate's own (0700).
    func writeReason(
        folder: String, asset: String, original: String, fingerprints: Fingerprints?,
        reasons: [Reason], records: [String], now: Date, pending: Bool = false
    ) throws(PipelineError) {
        let report: [String: Any] = [
            "pending": pending,
            "pending_until": pending
                ? Ledger.timestamp(now.addingTimeInterval(config.pendingDays * 86_400)) as Any : NSNull(),
            "asset": asset, "pipeline": config.name, "channel": config.channel,
            "original_name": original, "quarantined_at": Ledger.timestamp(now),
            "file_sha256": fingerprints?.fileSHA256 ?? NSNull(),
            "presented_sha256": fingerprints?.presentedSHA256 ?? NSNull(),
            "records_matching": records,
            "reasons": reasons.map {
                ["code": $0.code.rawValue, "message": $0.message, "what_to_do": $0.code.advice]
            },
        ]
        do {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            let pending = try FileIO.writePending(
                Array(data), finalPath: folder + "/" + asset + ".reason.json", mode: 0o600)
            try pending.commit()
        } catch { throw PipelineError("cannot write the reason for \(asset): \(error)", exitCode: 3, stage: .deliver, asset: asset) }
    }
}
