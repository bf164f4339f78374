import ByteKit
import ConsentRecords
import Foundation

/// The sweep's memory of its last full decision (issue 28): with which records (`Registry.decisionFingerprint`, the
/// trust file's hash, the pipeline's channel and people settings), for the publications published before when,
/// and until when those decisions hold (`Registry.decisionsHold`). A sweep whose records and settings are the same,
/// before that time, need not decide again a publication it decided then: its file is still checked (stat, and the hash
/// when the stat changed); only `ConsentPolicy.decide` is spared. Anything else decides every publication again:
/// no memory, another fingerprint, a time past, a publication published since (or with no time), a registry with
/// no fingerprint (an invalid record, records that cannot be verified), state tables the run does not trust, a dry
/// run. Kept in the ledger's observations (a cache beside the events, like settling's looks); losing it costs one
/// full sweep.
struct SweepMemo: Equatable {
    static let version: Int64 = 1
    /// What was decided with.
    var fingerprint: String
    /// Publications published before this were decided (the clock the ledger stamps events with).
    var decidedBefore: Date
    /// The decisions were made at `from` and hold until `until` (the clock decisions are made by, `Runner.clock`).
    var from: Date
    var until: Date
    /// The records folder's generation they were read in (`RunRegistry.generation`), "-" when it may not stand in
    /// for reading them.
    var folder: String = "-"

    /// What the memory is of: the sweep's decisions on live publications, or the decisions on pending quarantines
    /// (`releasable`), kept apart since each is written when its own pass has decided everything.
    enum Kind: String {
        case sweep = "sweep-memo:"
        case release = "release-memo:"
    }

    static func entry(_ kind: Kind, pipeline: String) -> String { kind.rawValue + pipeline }

    /// How far before the pass's start something must have been published (or quarantined) to count as decided by
    /// it: events are stamped when they are appended, and the pipeline's lock keeps every other run of it out
    /// meanwhile; the margin covers a stamp's rounding.
    static let margin: TimeInterval = 2

    /// The fingerprint of what a sweep decides with now, or nil (decide everything).
    /// `trust`: the trust file's hash taken before the records were verified with it (nil: it could not be used).
    static func fingerprint(registry: Registry, config: PipelineConfig, trust: String?) -> String? {
        guard let records = registry.decisionFingerprint, let trust else { return nil }
        let settings = [
            "sweep-memo-v\(version)", records, trust, config.channel, config.people.summary, "\(config.pendingDays)",
        ]
        return sha256Hex(Array(settings.joined(separator: "\u{0}").utf8))
    }

    static func read(_ kind: Kind, ledger: any LedgerStore, pipeline: String) throws(PipelineError) -> SweepMemo? {
        guard let kept = try ledger.observation(entry(kind, pipeline: pipeline)), kept.size == version else {
            return nil
        }
        let parts = kept.mtime.split(separator: "|").map(String.init)
        guard parts.count == 5, let before = Double(parts[1]), let from = Double(parts[2]), let until = Double(parts[3]),
            // What a pass can have written: decisions hold at most until the next midnight (25 h with a clock
            // change), for what was published before the pass. Anything else was not written by a pass: no memory.
            before <= from + margin, from <= until, until - from <= 25 * 3600
        else { return nil }
        return SweepMemo(
            fingerprint: parts[0], decidedBefore: Date(timeIntervalSince1970: before),
            from: Date(timeIntervalSince1970: from), until: Date(timeIntervalSince1970: until), folder: parts[4])
    }

    func write(_ kind: Kind, ledger: any LedgerStore, pipeline: String) throws(PipelineError) {
        let text = [decidedBefore, from, until].reduce(fingerprint) { $0 + "|\($1.timeIntervalSince1970)" } + "|" + folder
        try ledger.observe(
            SweepMemo.entry(kind, pipeline: pipeline),
            Ledger.Observation(size: SweepMemo.version, mtime: text, firstSeen: Date(), failures: 0))
    }

    static func forget(_ kind: Kind, ledger: any LedgerStore, pipeline: String) throws(PipelineError) {
        try ledger.observe(entry(kind, pipeline: pipeline), nil)
    }

    /// Whether the decision at `now` on something published (or quarantined) at `at` is the one this memory kept
    /// (it holds, with `fingerprint`).
    func covers(at: Date?, fingerprint: String?, now: Date) -> Bool {
        guard let fingerprint, fingerprint == self.fingerprint, now >= from, now < until, let at else {
            return false
        }
        return at < decidedBefore
    }
}

/// What one pass (a sweep, or `releasable`) does with the memory: the one it found (if it may be used), and what it
/// will keep.
struct SweepMemoUse {
    let kind: SweepMemo.Kind
    let pipeline: String
    let records: RunRegistry
    let kept: SweepMemo?
    /// When the pass started, by the ledger's clock and by the decisions' clock.
    let started: Date
    let now: Date
    /// Whether memories may be used and kept at all.
    let usable: Bool

    init(
        _ kind: SweepMemo.Kind, records: RunRegistry, config: PipelineConfig, ledger: (any LedgerStore)?,
        dryRun: Bool, now: Date
    ) throws(PipelineError) {
        self.kind = kind
        self.records = records
        started = Date()
        self.now = now
        pipeline = config.name
        // Only where one run of the pipeline at a time publishes (its lock; a SQLite ledger): with several hosts
        // another host's delivery may put a file in publish whose event is older than this pass.
        usable = !dryRun && config.postgres == nil && ledger?.readsState == true && records.fingerprint != nil
        if usable, let ledger {
            kept = try SweepMemo.read(kind, ledger: ledger, pipeline: config.name)
        } else {
            kept = nil
        }
    }

    func covers(_ publication: Ledger.Publication, now: Date) -> Bool {
        publication.pipeline == pipeline
            && kept?.covers(at: publication.publishedAt, fingerprint: records.fingerprint, now: now) == true
    }

    func covers(quarantinedAt: Date?, now: Date) -> Bool {
        kept?.covers(at: quarantinedAt, fingerprint: records.fingerprint, now: now) ?? false
    }

    /// After a pass that decided (or found kept) everything and acted on all it decided (the sweep withdrew all it
    /// refused; `releasable` found nothing to release): remember it. Otherwise forget any memory.
    func finish(ledger: (any LedgerStore)?, complete: Bool) throws(PipelineError) {
        guard let ledger else { return }
        guard usable, complete, !records.contradicted, let fingerprint = records.fingerprint, let until = records.decisionsHold(from: now)
        else {
            try SweepMemo.forget(kind, ledger: ledger, pipeline: pipeline)
            return
        }
        try SweepMemo(
            fingerprint: fingerprint, decidedBefore: started.addingTimeInterval(-SweepMemo.margin), from: now,
            until: until, folder: records.folderToKeep
        ).write(kind, ledger: ledger, pipeline: pipeline)
    }
}
