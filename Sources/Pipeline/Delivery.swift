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
    /// it with the error instead of retrying it forever. With several hosts the batch is delivered together as
    /// well, under the locks of its pictures (`deliverTogetherLocked`).
    func deliverOrLeave(_ items: [Processed], ledger: any LedgerStore, now: Date) -> [ItemReport] {
        let results: [Result<ItemReport, PipelineError>]
        if let hosts = ledger as? any HostCoordination {
            results = deliverTogetherLocked(items, hosts: hosts, ledger: ledger, now: now)
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
}
