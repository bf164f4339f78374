import ByteKit
import Foundation

/// Retention (`quarantine purge`, `archive purge`): originals ConsentGate keeps are removed once they are older than
/// a number of days, never one that may still be needed: a pending quarantine (a record may still release it), an
/// original whose publication is live (it is the evidence of what was published), or one a run has in hand. Each
/// removal is a `purged` event in the ledger first, then the file goes; all under the pipeline's lock.
public enum Purge {
    public enum Place: String, Sendable { case quarantine, archive }

    public struct Outcome: Sendable, Encodable {
        public var purged: [String] = []
        /// Kept although old enough, with why.
        public var kept: [String: String] = [:]
    }

    public static func run(_ config: PipelineConfig, place: Place, olderThanDays days: Double, dryRun: Bool, now: Date = Date())
        throws(PipelineError) -> Outcome
    {
        guard days >= 1 else { throw PipelineError("--older-than must be at least 1 day") }
        try config.prepare(create: false)
        let lockName = config.postgres == nil ? ".lock" : ".lock-" + config.hostID
        let lock = dryRun ? nil : try PipelineLock(folder: config.work, wait: config.lockWaitSeconds, name: lockName)
        defer { lock?.release() }
        let ledger = try LedgerStores.open(config, create: false)
        defer { ledger.disconnect() }
        let folder = place == .quarantine ? config.quarantine : config.archive
        let listing = try Folders.assetListing(of: folder, shownAs: place.rawValue)
        let live = Set(try ledger.livePublications().values.map(\.asset))
        var pending = Set<String>()
        if place == .quarantine {
            for entry in try QuarantineState.pending(
                ledger: ledger, pipeline: config.name, pendingDays: config.pendingDays, now: now)
            {
                pending.insert(entry.asset)
            }
        }
        let inHand = Set(Folders.entries(of: config.work))
        var outcome = Outcome()
        for (asset, name) in listing.originals.sorted(by: { $0.key < $1.key }) {
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            // Its age: when it came into this folder (the rename keeps the original's times, so the ledger's event
            // for the asset says when; the file's change time is the fallback).
            let kinds: [EventKind] = place == .quarantine ? [.quarantined] : [.published, .released, .duplicate]
            let event = try ledger.lastEvent(asset: asset, kinds: kinds)
            let since = event.flatMap { Ledger.parseTimestamp($0.at) } ?? Date(timeIntervalSince1970: TimeInterval(info.st_ctim.tv_sec))
            guard now.timeIntervalSince(since) >= days * 86_400 else { continue }
            if pending.contains(asset) {
                outcome.kept[asset] = "pending: a new record may still release it (pending_days)"
                continue
            }
            if live.contains(asset) {
                outcome.kept[asset] = "its publication is live: the original is the evidence of what was published"
                continue
            }
            if inHand.contains(asset) {
                outcome.kept[asset] = "a run has it in hand"
                continue
            }
            outcome.purged.append(asset)
            if dryRun { continue }
            let sha = try? FileSource(pathBytes: Array(path.utf8), followLinks: false).sha256()
            try ledger.append(
                pipeline: config.name, kind: .purged, asset: asset, fileSHA256: sha, contentSHA256: nil,
                detail: ["folder": place.rawValue, "older_than_days": days])
            guard unlink(path) == 0 || errno == ENOENT else {
                throw PipelineError("cannot remove \(path): \(String(cString: strerror(errno)))", exitCode: 3)
            }
            if place == .quarantine { unlink(folder + "/" + asset + ".reason.json") }
        }
        if !dryRun { Folders.syncFolder(folder + "/.") }
        return outcome
    }
}
