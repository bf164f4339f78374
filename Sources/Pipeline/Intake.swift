import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import Synchronization

/// Intake (SPEC §2.1, 2.2, 2.8): settling, the claim, recovery of what an interrupted run left claimed, and the
/// pending quarantines whose consent has arrived.
extension Runner {
    /// Where the looks at an inbox entry are kept: keyed by pipeline too, since two pipelines sharing a ledger may
    /// both have IMG_0001.jpg in their inboxes.
    func settleKey(_ relative: [UInt8]) -> String { "inbox:" + sha256Hex(Array(config.name.utf8) + [0] + relative) }

    /// Settling (SPEC §2): nil when the entry had this size and mtime at a look at least `settle_seconds` ago
    /// (take it now); otherwise when it was first seen so, after recording this look.
    func settled(_ relative: [UInt8], stamp: String, ledger: any LedgerStore) throws(PipelineError) -> Date? {
        if config.settleSeconds <= 0 { return nil }
        let key = settleKey(relative)
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

    /// A file modified too recently to be taken: this look is recorded as the first one (unless one with the same
    /// stamp is recorded already), so that a look `settle_seconds` later can take it if nothing changed. Without it a
    /// watcher took a share's drop only at the third rescan, and `run` could not take it in its second look.
    /// Returns when the first look was.
    @discardableResult
    func noteFirstLook(_ relative: [UInt8], stamp: String, ledger: any LedgerStore) throws(PipelineError) -> Date {
        if config.settleSeconds <= 0 { return Date() }
        let key = settleKey(relative)
        if let seen = try ledger.observation(key), seen.mtime == stamp { return seen.firstSeen }
        let now = Date()
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
    /// silence. With several hosts the claim is first won in the database, on the entry's path and `stamp` (size,
    /// mtime, inode), so that two hosts never take one file even where the share's rename is weak.
    func claim(_ place: Place, relative: [UInt8], stamp: String, ledger: any LedgerStore, now: Date)
        throws(PipelineError) -> Claim
    {
        let claimed = try moveIntoWork(place, relative: relative, stamp: stamp, ledger: ledger)
        if case .claimed(let asset, _) = claimed {
            Folders.syncFolder(config.work + "/" + asset)
            try recordClaims([asset], ledger: ledger)
        }
        return claimed
    }

    /// The first half of a claim: the rename into the work folder (won in the database first with several hosts),
    /// without syncing the folder or recording the event. Group commit claims several files this way, then syncs
    /// the work folder once and records their events in one transaction (`recordClaims`). A kill in between leaves
    /// files in the work folder with no `claimed` event: recovery claims them again under new ids.
    func moveIntoWork(_ place: Place, relative: [UInt8], stamp: String, ledger: any LedgerStore)
        throws(PipelineError) -> Claim
    {
        let asset = Folders.newAssetID()
        let target = config.work + "/" + asset
        let hosts = ledger as? any HostCoordination
        if let hosts {
            let entry = "inbox:" + sha256Hex(relative) + ":" + stamp
            guard try hosts.claimEntry(pipeline: config.name, entry: entry, asset: asset) else { return .gone }
        }
        guard place.withName({ from in target.withCString { FileIO.moveNoReplace(from: place.folder.fd, from, to: AT_FDCWD, $0) } })
            == 0
        else {
            let failure = errno
            try hosts?.dropClaim(asset: asset)
            if failure == ENOENT { return .gone }
            if failure == ESTALE {
                // The checked move of a share without RENAME_NOREPLACE (docs/shares.md): the file is in the work
                // folder, but it is not the one that was looked at. No event: the next run claims it again.
                return .failed(
                    "was moved into the work folder, but what arrived is not what was seen in the inbox (changed on "
                        + "the share meanwhile): the next run takes it again")
            }
            return .failed(
                "cannot be claimed (\(String(cString: strerror(failure)))): ConsentGate must be able to move it from "
                    + "its inbox folder into the work folder on the same filesystem")
        }
        return .claimed(asset, RawPath(target))
    }

    /// The second half: the `claimed` events of files already renamed into the (synced) work folder, in one
    /// transaction. If it fails the files stay claimed in the work folder; the next run recovers them.
    func recordClaims(_ assets: [String], ledger: any LedgerStore) throws(PipelineError) {
        guard !assets.isEmpty else { return }
        let detail: [String: Any] = (ledger as? any HostCoordination).map { ["host": $0.hostID] } ?? [:]
        var events: [NewLedgerEvent] = []
        for asset in assets {
            events.append(
                try NewLedgerEvent(
                    pipeline: config.name, kind: .claimed, asset: asset, fileSHA256: nil, contentSHA256: nil,
                    detail: detail))
        }
        try ledger.append(batch: events)
        for asset in assets { logger.debug("claimed", metadata: ["stage": "claim", "asset": "\(asset)"]) }
    }

    /// What a file left in the work folder is: a claimed asset (the ledger has its `claimed` event) keeps its id;
    /// anything else is claimed again under a new id (a kill between the rename and the ledger's event leaves
    /// such a file), so no name in the work folder can make delivery replace another asset's original.
    func recoverable(_ name: String, ledger: any LedgerStore, now: Date, summary: inout RunSummary) throws(PipelineError)
        -> (String, RawPath)?
    {
        let path = RawPath(config.work + "/" + name)
        guard let work = Directory(Array(config.work.utf8), in: nil, followLinks: true) else {
            throw PipelineError("cannot open the work folder \(config.work)", exitCode: 3, stage: .recovery)
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
        if Runner.isAssetID(name), try ledger.lastEvent(asset: name, kinds: [.claimed]) != nil {
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
        let stamp = "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_ino)"
        switch try claim(place, relative: Array(("work/" + name).utf8), stamp: stamp, ledger: ledger, now: now) {
        case .claimed(let asset, let target): return (asset, target)
        case .gone: return nil
        case .failed(let why):
            summary.add(ItemReport(asset: Runner.entryID(Array(name.utf8)), outcome: .left, reasons: [why], records: []))
            return nil
        }
    }

    /// Pending quarantines (every reason curable by a new record, quarantined at most `pending_days` ago) that
    /// today's records approve: each is taken back into the work folder (a `release_started` event first, so
    /// that a kill between the two leaves it pending) and then handled like a new file.
    func releasable(
        records: RunRegistry, ledger: any LedgerStore, now: Date, inHand: Set<String>, summary: inout RunSummary
    ) throws(PipelineError) -> [(String, RawPath, String)] {
        var taken: [(String, RawPath, String)] = []
        let listing = try Folders.assetListing(of: config.quarantine, shownAs: "quarantine")
        // A reason file whose asset was released or archived as a duplicate since (a kill came between the move
        // and its removal) has nothing left to explain: it goes, with the name it keeps.
        for asset in listing.reasonFiles where listing.originals[asset] == nil {
            let last = try ledger.lastEvent(asset: asset, kinds: QuarantineState.kinds)
            if last?.eventKind == .released || last?.eventKind == .duplicate || last?.eventKind == .published {
                try? FileManager.default.removeItem(atPath: config.quarantine + "/" + asset + ".reason.json")
            }
        }
        // Decided again unless the memory of the last such pass holds its refusal (the same records, before their
        // next date: `SweepMemo`); remembered only when nothing was approved and nothing was in hand.
        let decisionTime = Runner.decisionTime(after: now)
        // Remembered as decided when they are decided (not at the run's start, which reading the records or waiting
        // for the lock may have put seconds before this pass: such a memory would be no memory to the next run).
        let memo = try SweepMemoUse(
            .release, records: records, config: config, ledger: ledger, dryRun: false, now: decisionTime)
        var complete = inHand.isEmpty
        for candidate in try QuarantineState.pending(
            ledger: ledger, pipeline: config.name, pendingDays: config.pendingDays, now: now)
        {
            // Already in hand (a kill after it was taken back): recovery finishes it.
            if inHand.contains(candidate.asset) { continue }
            if memo.covers(quarantinedAt: candidate.quarantinedAt, now: decisionTime) {
                summary.quarantinesKept += 1
                continue
            }
            summary.quarantinesRedecided += 1
            let registry = try records.registry(&summary)
            // Read only now, and they stop publishing (a doubt the memory did not know of): nothing is released.
            guard summary.publishingStopped.isEmpty else {
                complete = false
                break
            }
            let decision = ConsentPolicy.decide(
                presentedSHA256: candidate.contentSHA256, fileSHA256: candidate.fileSHA256, channel: config.channel,
                registry: registry, now: decisionTime, newPublication: true,
                visible: registry.reviewed(
                    try QuarantineState.visiblePeople(ledger: ledger, asset: candidate.asset, config: config),
                    presentedSHA256: candidate.contentSHA256, fileSHA256: candidate.fileSHA256))
            guard decision.approved else { continue }
            complete = false
            // Several hosts: the one that takes it releases it.
            if let hosts = ledger as? any HostCoordination,
                try !hosts.takeAsset(pipeline: config.name, asset: candidate.asset)
            {
                continue
            }
            guard let original = listing.originals[candidate.asset] else { continue }
            let reasonPath = config.quarantine + "/" + candidate.asset + ".reason.json"
            let report =
                FileManager.default.contents(atPath: reasonPath).flatMap {
                    (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any]
                } ?? [:]
            try ledger.append(
                pipeline: config.name, kind: .releaseStarted, asset: candidate.asset,
                fileSHA256: candidate.fileSHA256, contentSHA256: candidate.contentSHA256,
                detail: ["records": decision.usedRecords])
            let target = config.work + "/" + candidate.asset
            do { try Folders.move(RawPath(config.quarantine + "/" + original), to: target, allowCopy: true) } catch {
                summary.add(
                    ItemReport(
                        asset: candidate.asset, outcome: .left,
                        reasons: ["its consent arrived, but it cannot be taken out of quarantine: \(error)"],
                        records: decision.usedRecords))
                continue
            }
            taken.append((candidate.asset, RawPath(target), report["original_name"] as? String ?? "(released)"))
        }
        try memo.finish(ledger: ledger, complete: complete)
        return taken
    }

    /// Whether a work folder name is an asset id (32 lower-case hex digits).
    static func isAssetID(_ name: String) -> Bool {
        name.count == 32 && name.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// Temporary files (".NAME.cg-XXXX.tmp") that a killed run left in ConsentGate's folders. Under the
    /// pipeline lock no other run of this pipeline is writing, so every one of them is dead. With several hosts
    /// another host may be writing one now: only those older than a claim's lease are dead.
    func removeStaleTemporaries() {
        let shared = config.postgres != nil
        // One listing of each folder as raw names, and a string made only of what looks like a temporary: these
        // folders hold every original and publication (issue 28: an idle run costs a listing, not a string each).
        for folder in [config.publish, config.quarantine, config.archive, config.retracted] {
            for raw in Folders.rawEntries(of: folder) ?? [] where Runner.isTemporaryName(raw) {
                let path = RawPath(folder).appending(raw)
                // Only a regular file, as ConsentGate writes them: a folder or link under such a name is not ours.
                var info = stat()
                guard path.withCString({ lstat($0, &info) }) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                if shared {
                    // Another host may be writing it: only one older than a lease is dead (a time in the future
                    // counts as old: nobody writes from the future).
                    let age = Date().timeIntervalSince1970 - Double(info.st_mtim.tv_sec)
                    guard age > config.claimLeaseSeconds || age < -60 else { continue }
                }
                _ = path.withCString { unlink($0) }
            }
        }
    }

    /// The assets in hand whose copy an interrupted run already put into publish, in order (publish is listed only
    /// when something is in hand).
    func inHandInPublish(_ inHand: Set<String>) -> [String] {
        guard !inHand.isEmpty else { return [] }
        let inPublish = Set(
            Folders.entries(of: config.publish).compactMap { $0.split(separator: ".").first.map(String.init) })
        return inHand.filter { inPublish.contains($0) }.sorted()
    }

    /// Whether a raw name is one of ConsentGate's temporaries (".NAME.cg-XXXX.tmp"): it starts with a dot, ends with
    /// ".tmp" and holds ".cg-".
    static func isTemporaryName(_ raw: [UInt8]) -> Bool {
        let suffix = Array(".tmp".utf8), marker = Array(".cg-".utf8)
        guard raw.first == UInt8(ascii: "."), raw.count >= suffix.count, raw.suffix(suffix.count).elementsEqual(suffix)
        else { return false }
        guard raw.count >= marker.count else { return false }
        for start in 0...(raw.count - marker.count) where raw[start..<start + marker.count].elementsEqual(marker) {
            return true
        }
        return false
    }

    /// An opaque id for an entry of the inbox in reports (never its name).
    static func entryID(_ relative: [UInt8]) -> String { "entry-" + String(sha256Hex(relative).prefix(16)) }

    /// A stable id for an entry that is never read: from its device, inode and path in the inbox.
    static func hostileAssetID(_ path: RawPath, relative: [UInt8]) -> String {
        var info = stat()
        _ = path.withCString { lstat($0, &info) }
        let key = Array("\(info.st_dev):\(info.st_ino):".utf8) + relative
        return String(sha256Hex(key).prefix(32))
    }
}
