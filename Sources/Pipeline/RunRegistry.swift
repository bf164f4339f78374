import ByteKit
import CSystemShims
import ConsentRecords
import Foundation

/// The records a run decides by, read only when a decision needs them (issue 28). An idle run (nothing in the
/// inbox, nothing in hand) whose authorizations folder, trust file, settings and the ledger's memory of records are
/// as they were when the sweep and the pending quarantines were last decided in full, before those decisions' next
/// date (`SweepMemo`), reads no record file: it lists the folder and stats each entry. Anything else (a doubt of
/// any kind) reads and verifies every record at the start of the run as before.
final class RunRegistry {
    private let config: PipelineConfig
    /// The trust file's hash, taken before it was loaded; nil when it could not be loaded (then nothing is kept).
    private let trustHash: String?
    private let loader: (inout RunSummary) throws(PipelineError) -> Registry
    private var loadedRegistry: Registry?
    private var loadedFingerprint: String?
    /// The records folder's generation when the run started (`RunRegistry.generation`); nil: unknown.
    let folder: String?
    /// The fingerprint and time limit both memories kept, when they may stand in for reading the records.
    private let kept: (fingerprint: String, until: Date)?
    /// Whether the loaded records had nothing a summary must repeat on every run (warnings, records gone):
    /// only then may a later run leave them unread.
    private var clean = false

    init(
        config: PipelineConfig, ledger: (any LedgerStore)?, dryRun: Bool, now: Date, idle: Bool, trustHash: String?,
        summary: inout RunSummary, loader: @escaping (inout RunSummary) throws(PipelineError) -> Registry
    ) throws(PipelineError) {
        self.config = config
        self.trustHash = trustHash
        self.loader = loader
        var known: (fingerprint: String, until: Date)? = nil
        if !dryRun, config.postgres == nil, let ledger, ledger.readsState, let trustHash,
            let generation = try RunRegistry.generation(config: config, ledger: ledger, trust: trustHash)
        {
            folder = generation
            if idle, let sweep = try SweepMemo.read(.sweep, ledger: ledger, pipeline: config.name),
                let release = try SweepMemo.read(.release, ledger: ledger, pipeline: config.name),
                sweep.folder == generation, release.folder == generation, sweep.fingerprint == release.fingerprint,
                now >= max(sweep.from, release.from), now < min(sweep.until, release.until)
            {
                known = (sweep.fingerprint, min(sweep.until, release.until))
            }
        } else {
            folder = nil
        }
        kept = known
        if known == nil { _ = try registry(&summary) }
    }

    /// Whether the records were read this run.
    var isLoaded: Bool { loadedRegistry != nil }

    /// Read after the memories stood in for them, and found other than they said (a change the folder's
    /// generation missed): what this run kept from memory must not be kept again.
    var contradicted: Bool { isLoaded && kept != nil && loadedFingerprint != kept?.fingerprint }

    /// The records, read now if they were not yet.
    func registry(_ summary: inout RunSummary) throws(PipelineError) -> Registry {
        if let loadedRegistry { return loadedRegistry }
        let registry = try loader(&summary)
        summary.recordFilesRead = registry.sightings.count
        loadedRegistry = registry
        loadedFingerprint = SweepMemo.fingerprint(registry: registry, config: config, trust: trustHash)
        clean = registry.warnings.isEmpty && summary.recordsGone.isEmpty && summary.publishingStopped.isEmpty
            && summary.configurationProblems.isEmpty
        return registry
    }

    /// What decisions are made with (`SweepMemo.fingerprint`): of the records read, or the one the memories kept
    /// when they were not read. Nil: nothing may be kept.
    var fingerprint: String? { isLoaded ? loadedFingerprint : kept?.fingerprint }

    /// Until when decisions made at `now` hold.
    func decisionsHold(from now: Date) -> Date? {
        if let loadedRegistry { return loadedRegistry.decisionsHold(from: now) }
        return kept?.until
    }

    /// The folder generation a memory may keep: only when the records read (or left unread) were clean.
    var folderToKeep: String { (isLoaded ? clean : kept != nil) ? folder ?? "-" : "-" }

    /// A digest of what the records depend on, without reading them: every entry of the authorizations folder
    /// (name, kind, size, inode, modification and change times, to the nanosecond; subfolders too), the trust file's
    /// bytes, the pipeline's settings and the newest `record_seen` event. Nil where that cannot be said with
    /// certainty: a folder on a file system whose change times may not move (`LocalFileSystem`), an entry that
    /// cannot be stat'ed, changed in the last two seconds (a later change within the same clock tick would look the
    /// same), more than a million entries (100,000 records and their signatures are 200,000) or folders deeper than
    /// the registry reads, a ledger that cannot give its newest `record_seen` event.
    static func generation(config: PipelineConfig, ledger: any LedgerStore, trust: String) throws(PipelineError)
        -> String?
    {
        guard LocalFileSystem.changeTimesAreKept(config.authorizations), let seen = try ledger.lastRecordSeenSeq()
        else { return nil }
        // Hashed as it is walked (memory does not grow with the folder), each entry's stat as fixed-width numbers
        // and each stat relative to its open folder (issue 28: one `fstatat` and no string per entry).
        var hasher = RangeHasher()
        func add(_ text: String) { hasher.update(Array(text.utf8) + [0]) }
        func add(number: Int64) { withUnsafeBytes(of: number.littleEndian) { hasher.update($0) } }
        add("records-folder-v2")
        add(config.authorizations)
        add(trust)
        add("\(seen)")
        add(config.name)
        add(config.channel)
        add(config.timeZone.identifier)
        add(config.people.summary)
        add("\(config.pendingDays)")
        let recent = Date().timeIntervalSince1970 - 2
        var count = 0
        func walk(_ folder: Directory, _ name: [UInt8], path: [UInt8], depth: Int) -> Bool {
            var info = stat()
            let found = (name + [0]).withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    fstatat(folder.fd, $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW)
                }
            }
            guard found == 0 else { return false }
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            let changed = Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9
            guard modified < recent, changed < recent else { return false }
            hasher.update(path + [0])
            add(number: Int64(info.st_mode))
            add(number: Int64(info.st_size))
            add(number: Int64(bitPattern: UInt64(info.st_dev)))
            add(number: Int64(bitPattern: UInt64(info.st_ino)))
            add(number: Int64(info.st_mtim.tv_sec))
            add(number: Int64(info.st_mtim.tv_nsec))
            add(number: Int64(info.st_ctim.tv_sec))
            add(number: Int64(info.st_ctim.tv_nsec))
            count += 1
            guard count <= 1_000_000 else { return false }
            guard info.st_mode & S_IFMT == S_IFDIR else { return true }
            guard depth <= 5, let directory = Directory(name, in: folder), let names = directory.names() else {
                return false
            }
            for child in names {
                guard walk(directory, child, path: path + [0x2F] + child, depth: depth + 1) else { return false }
            }
            return true
        }
        // The configured folder may be a link (followed, as the registry follows it); what is inside never is.
        var top = stat()
        guard stat(config.authorizations, &top) == 0, top.st_mode & S_IFMT == S_IFDIR else { return nil }
        add("top \(top.st_dev) \(top.st_ino)")
        let folder = Array(config.authorizations.utf8)
        guard let directory = Directory(folder, in: nil, followLinks: true), let names = directory.names() else {
            return nil
        }
        // `names` are sorted by their bytes (`Directory.names`).
        for name in names {
            guard walk(directory, name, path: folder + [0x2F] + name, depth: 1) else { return nil }
        }
        return hasher.finalize()
    }
}
