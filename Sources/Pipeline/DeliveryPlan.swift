import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import Synchronization

/// Delivery's plan (SPEC §2.6): what delivering one file takes, and the event it records.
extension Runner {
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
                let first = try ledger.livePublications(pipeline: config.name, contentSHA256: content).first
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
    func event(for plan: Planned, item: Processed) throws(PipelineError) -> NewLedgerEvent? {
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
    func notify(_ event: NewLedgerEvent, plan: Planned, item: Processed) {
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
}
