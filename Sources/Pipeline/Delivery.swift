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

    /// Delivers, or, when delivery fails (a full disk, an unwritable folder), leaves the file claimed for the next
    /// run; the third failure in a row quarantines it with the error instead of retrying it forever.
    func deliverOrLeave(_ item: Processed, ledger: any LedgerStore, now: Date) -> ItemReport {
        let key = "work:" + item.asset
        do {
            let report = try deliverOnce(item, ledger: ledger, now: now)
            if item.writeFailure == nil { try? ledger.observe(key, nil) }
            return report
        } catch {
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
            try? ledger.observe(
                key, Ledger.Observation(size: 0, mtime: "", firstSeen: now, failures: failures))
            logger.warning(
                "left for the next run", metadata: ["stage": "deliver", "asset": "\(item.asset)", "run": "\(failures)"])
            return ItemReport(
                asset: item.asset, outcome: .left, reasons: ["\(error) (run \(failures) of \(Runner.maxFailures))"],
                records: [])
        }
    }

    /// With several hosts, a picture is decided by one host at a time, against what is live now in the shared
    /// ledger (not as of this run's start), so that two hosts never publish one picture twice.
    func deliverOnce(_ item: Processed, ledger: any LedgerStore, now: Date) throws(PipelineError) -> ItemReport {
        guard let hosts = ledger as? any HostCoordination, item.decision?.approved == true,
            let content = item.fingerprints?.contentSHA256
        else { return try deliver(item, ledger: ledger, now: now) }
        return try hosts.withPictureLock(pipeline: config.name, content: content) { () throws(PipelineError) in
            let liveNow = try ledger.livePublications().values.contains {
                $0.pipeline == config.name && $0.contentSHA256 == content
            }
            live.withLock { set in
                if liveNow { set.insert(content) } else { set.remove(content) }
            }
            return try deliver(item, ledger: ledger, now: now)
        }
    }

    /// Publish + archive, or quarantine with a reason. Crash-safe: every step can be repeated after a kill.
    func deliver(_ item: Processed, ledger: any LedgerStore, now: Date) throws(PipelineError) -> ItemReport {
        if let why = item.writeFailure {
            throw PipelineError("the published copy of \(item.asset) cannot be written: \(why)", exitCode: 3, stage: .deliver, asset: item.asset)
        }
        let ext = item.format.fileExtension
        let publishedName = item.asset + "." + ext
        let publishedPath = config.publish + "/" + publishedName
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
        // One picture, one publication: a second copy of a picture live in publish is archived, not published.
        if approved && !alreadyPublished && !alreadyQuarantined, let content = item.fingerprints?.contentSHA256,
            live.withLock({ $0.contains(content) })
        {
            item.sanitized?.pending?.discard()
            let first = try ledger.livePublications().values.first {
                $0.pipeline == config.name && $0.contentSHA256 == content
            }
            if try ledger.lastEvent(asset: item.asset, kinds: [.duplicate]) == nil {
                try ledger.append(
                    pipeline: config.name, kind: .duplicate, asset: item.asset, fileSHA256: item.fingerprints?.fileSHA256,
                    contentSHA256: content, detail: ["published_name": first?.name ?? "", "of": first?.asset ?? ""])
                notifier?.send("duplicate", asset: item.asset, publishedName: first?.name)
            }
            try Folders.move(item.claimed, to: config.archive + "/" + item.asset + "." + ext, allowCopy: true)
            if releasing { try? FileManager.default.removeItem(atPath: config.quarantine + "/" + item.asset + ".reason.json") }
            return ItemReport(
                asset: item.asset, outcome: .duplicate,
                reasons: ["the same picture is already published as \(first?.name ?? "another file"): archived, not published twice"],
                records: [], publishedName: first?.name)
        }
        if alreadyPublished || (approved && !alreadyQuarantined) {
            if let pending = item.sanitized?.pending {
                // The copy verified in this run replaces whatever an interrupted run left under this name.
                try wrap { () throws(MediaError) in try pending.commit() }
            } else if !alreadyPublished {
                throw PipelineError("no verified copy of \(item.asset) was written to publish", exitCode: 3, stage: .deliver, asset: item.asset)
            }
            // The verified copy's hash as this process read it after verification, or read again here (a copy an
            // interrupted run left). The sweep compares it with the file in publish on every run.
            let identity: (sha256: String, stat: String)
            if item.sanitized?.pending != nil, let sha = item.sanitized?.outputSHA256,
                let stamp = Runner.statStamp(RawPath(publishedPath))
            {
                identity = (sha, stamp)
            } else {
                identity = try Runner.identity(of: RawPath(publishedPath))
            }
            let recorded = try ledger.lastEvent(asset: item.asset, kinds: [.published, .released])
            let kind: EventKind = releasing || recorded?.eventKind == .released ? .released : .published
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
                    kind.rawValue, asset: item.asset, publishedName: publishedName, records: item.decision?.usedRecords ?? [])
            }
            if let content = item.fingerprints?.contentSHA256 { live.withLock { _ = $0.insert(content) } }
            try Folders.move(item.claimed, to: config.archive + "/" + item.asset + "." + ext, allowCopy: true)
            if kind == .released {
                // Its quarantine is over: the reason file goes with it.
                try? FileManager.default.removeItem(atPath: config.quarantine + "/" + item.asset + ".reason.json")
            }
            return ItemReport(
                asset: item.asset, outcome: kind == .released ? .released : .published, reasons: [], records: item.decision?.usedRecords ?? [],
                publishedName: publishedName)
        }
        item.sanitized?.pending?.discard()
        let reasons = item.reasons.isEmpty ? [Reason(.unknown, "not approved")] : item.reasons
        // After a kill the reason already written (with the original name) is kept.
        if !(alreadyQuarantined && FileIO.exists(config.quarantine + "/" + item.asset + ".reason.json")) {
            try writeReason(
                folder: config.quarantine, asset: item.asset, original: item.original, fingerprints: item.fingerprints,
                reasons: reasons, records: item.decision?.matchingRecords ?? [], now: now,
                pending: reasons.allSatisfy { $0.code.isCurable })
        }
        // The ledger first, then the move: a kill between them leaves the original in the work folder, and the
        // next run finishes the move without a second event. The other order could lose the event for good.
        // Pending: every reason is one a new record can cure; each run decides it again for `pending_days`.
        let pending = reasons.allSatisfy { $0.code.isCurable }
        if !alreadyQuarantined {
            try ledger.append(
                pipeline: config.name, kind: .quarantined, asset: item.asset,
                fileSHA256: item.fingerprints?.fileSHA256,
                contentSHA256: item.fingerprints?.contentSHA256,
                detail: [
                    "reasons": reasons.map(\.code.rawValue), "records": item.decision?.matchingRecords ?? [], "pending": pending,
                ])
            notifier?.send(
                "quarantined", asset: item.asset, records: item.decision?.matchingRecords ?? [],
                reasons: reasons.map(\.code.rawValue))
        }
        try Folders.move(item.claimed, to: config.quarantine + "/" + item.asset + "." + ext, allowCopy: true)
        return ItemReport(
            asset: item.asset, outcome: .quarantined, reasons: reasons.map(\.message),
            records: item.decision?.matchingRecords ?? [])
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
        return ItemReport(asset: asset, outcome: .quarantined, reasons: ["it is \(why)"], records: [])
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
            "content_sha256": fingerprints?.contentSHA256 ?? NSNull(),
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
