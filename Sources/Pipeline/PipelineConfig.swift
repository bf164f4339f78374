import ByteKit
import Foundation
import MediaFormats
import Yams

/// One pipeline: a YAML file in Pipelines/ (SPEC §1). Relative paths resolve against the file's folder.
public struct PipelineConfig: Sendable {
    public var file: String
    public var name: String
    public var channel: String
    public var inbox: String
    public var publish: String
    public var quarantine: String
    public var archive: String
    public var retracted: String
    public var authorizations: String
    public var trust: String
    /// The SQLite ledger's path, or (with `postgres` set) the `postgresql://` URL as written.
    public var ledger: String
    /// The shared PostgreSQL ledger, when `ledger:` is a URL (nil: the embedded SQLite ledger).
    public var postgres: PostgresURL? = nil
    /// This host's name in claims (`CONSENTGATE_HOST_ID`, default the host name): letters, digits, '.', '_', '-'.
    public var hostID: String = "localhost"
    /// How long a claim in a PostgreSQL ledger holds before another host may recover the file
    /// (`claim_lease_seconds`, default 600); renewed while the claiming run is alive.
    public var claimLeaseSeconds: Double = 600
    public var settleSeconds: Double = 30
    public var rescanSeconds: Double = 60
    /// What the sanitizer keeps (`sanitize.keep_orientation`, `sanitize.keep_icc`) and whether it decodes fully
    /// (`verify_decode`).
    public var sanitize = SanitizeOptions()
    /// The wall-clock deadline of one operation in a sandboxed worker (`worker_seconds`, default 120): a file that
    /// keeps a reader longer is tried once more in a fresh worker, then quarantined.
    public var workerSeconds: Double = 120
    /// The address-space limit of a worker (`worker_memory_mb`, RLIMIT_AS, default 4096).
    public var workerMemoryMB = 4096
    /// Where claimed files wait (`work:`): ConsentGate's own folder, outside the inbox (staff cannot place files
    /// in it) but on the inbox's filesystem, so that a claim is one atomic rename (checked by `prepare`). Default:
    /// `.consentgate-work/INBOX-NAME` beside the inbox.
    public var work: String
    /// The zone in which records' dates (`effective`, `expires`) are days (`timezone:`, default UTC).
    public var timeZone = TimeZone(identifier: "UTC")!
    /// How long a run waits for another run of the same pipeline to let go of the lock before it gives up (exit 3).
    public var lockWaitSeconds: Double = 600
    /// How long a quarantine that a new record can cure is decided again on every run (`pending_days`).
    public var pendingDays: Double = 90
    /// How many people a picture shows (`people_check`, `min_face_pixels`): PipelineConfig+People.swift.
    public var people = PeopleCheck()
    /// A command told of every event (`notify:`), one JSON document on its standard input.
    public var notify: String? = nil
    /// How long the notify command may take for one event.
    public static let notifyTimeout: TimeInterval = 10
    /// The privacy office's folders and files (`evidence`, `office_export`, `office_defaults`; PipelineOffice.swift).
    public var office = OfficePlaces()

    static let topKeys: Set<String> = [
        "name", "channel", "folders", "authorizations", "trust", "ledger", "settle_seconds", "rescan_seconds",
        "sanitize", "verify_decode", "max_hidden_lead_in_seconds", "work", "timezone", "lock_wait_seconds", "pending_days", "notify",
        "worker_memory_mb", "worker_seconds",
        "claim_lease_seconds", "evidence", "office_export", "office_defaults",
        "people_check", "min_face_pixels",
    ]
    static let folderKeys: Set<String> = ["inbox", "publish", "quarantine", "archive", "retracted"]

    /// `environment`: where `CONSENTGATE_HOST_ID` and PostgreSQL's PGPASSWORD, PGPASSFILE and HOME are read.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(PipelineError) -> PipelineConfig
    {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw PipelineError("\(path): cannot read the pipeline file (\(error.localizedDescription))")
        }
        return try parse(text, path: path, environment: environment)
    }

    public static func parse(
        _ text: String, path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PipelineError) -> PipelineConfig {
        func fail(_ why: String) -> PipelineError { PipelineError("\(path): \(why)") }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw fail("not valid YAML: \(error)") }
        guard case .mapping(let root)? = node else { throw fail("must be a YAML mapping of the keys in SPEC §1") }
        let top = try mapping(root, known: topKeys, place: "", fail: fail)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ value: String) -> String {
            let absolute = value.hasPrefix("/") ? value : (base as NSString).appendingPathComponent(value)
            return PipelineConfig.normalize(absolute)
        }
        func string(_ values: [String: Node], _ key: String, _ place: String = "") throws(PipelineError) -> String {
            guard let value = values[key] else { throw fail("missing key \(place)\(key)") }
            guard let text = value.scalar?.string, !text.isEmpty else { throw fail("\(place)\(key) must be text") }
            return text
        }
        guard case .mapping(let foldersNode)? = top["folders"] else { throw fail("missing key folders (a mapping)") }
        let folders = try mapping(foldersNode, known: folderKeys, place: "folders.", fail: fail)
        let channel = try string(top, "channel")
        guard
            channel.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
            })
        else { throw fail("channel must be lower-case letters, digits, '-' or '_'") }
        let ledgerValue = try string(top, "ledger")
        var postgres: PostgresURL? = nil
        if PostgresURL.isURL(ledgerValue) {
            do { postgres = try PostgresURL.parse(ledgerValue, environment: environment) } catch { throw fail(error.message) }
        }
        var config = PipelineConfig(
            file: path, name: try string(top, "name"), channel: channel,
            inbox: resolve(try string(folders, "inbox", "folders.")),
            publish: resolve(try string(folders, "publish", "folders.")),
            quarantine: resolve(try string(folders, "quarantine", "folders.")),
            archive: resolve(try string(folders, "archive", "folders.")),
            retracted: resolve(try string(folders, "retracted", "folders.")),
            authorizations: resolve(try string(top, "authorizations")), trust: resolve(try string(top, "trust")),
            ledger: postgres == nil ? resolve(ledgerValue) : ledgerValue, work: "")
        config.postgres = postgres
        if postgres != nil { config.hostID = try hostID(environment: environment, fail: fail) }
        config.work =
            top["work"] != nil
            ? resolve(try string(top, "work"))
            : ((config.inbox as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
                ".consentgate-work/" + (config.inbox as NSString).lastPathComponent)
        if top["timezone"] != nil {
            let identifier = try string(top, "timezone")
            guard let zone = TimeZone(identifier: identifier) else {
                throw fail("timezone \(identifier) is not a known time zone (e.g. UTC, America/Chicago, Europe/Berlin)")
            }
            config.timeZone = zone
        }
        func number(_ key: String) throws(PipelineError) -> Double? {
            guard let node = top[key] else { return nil }
            guard let value = node.scalar.flatMap({ Double($0.string) }), value.isFinite, value >= 0, value < 86_400
            else {
                throw fail("\(key) must be a number of seconds (0 to 86399)")
            }
            return value
        }
        config.lockWaitSeconds = try number("lock_wait_seconds") ?? 600
        if let seconds = try number("worker_seconds") {
            guard seconds >= 1 else { throw fail("worker_seconds must be at least 1") }
            config.workerSeconds = seconds
        }
        if let node = top["worker_memory_mb"] {
            guard let megabytes = node.scalar.flatMap({ Int($0.string) }), (256...65_536).contains(megabytes) else {
                throw fail("worker_memory_mb must be a whole number of MiB (256 to 65536)")
            }
            config.workerMemoryMB = megabytes
        }
        config.claimLeaseSeconds = try number("claim_lease_seconds") ?? 600
        if config.claimLeaseSeconds < 1 { throw fail("claim_lease_seconds must be at least 1") }
        if let node = top["pending_days"] {
            guard let days = node.scalar.flatMap({ Double($0.string) }), days.isFinite, days >= 0, days <= 3650 else {
                throw fail("pending_days must be a number of days (0 to 3650)")
            }
            config.pendingDays = days
        }
        if top["notify"] != nil {
            let command = resolve(try string(top, "notify"))
            guard FileManager.default.isExecutableFile(atPath: command) else {
                throw fail("notify: \(command) is not an executable file")
            }
            config.notify = command
        }
        config.settleSeconds = try number("settle_seconds") ?? 30
        config.rescanSeconds = max(1, try number("rescan_seconds") ?? 60)
        func flag(_ values: [String: Node], _ key: String, _ place: String) throws(PipelineError) -> Bool? {
            guard let node = values[key] else { return nil }
            switch node.scalar?.string {
            case "true": return true
            case "false": return false
            default: throw fail("\(place)\(key) must be true or false")
            }
        }
        if let sanitizeNode = top["sanitize"] {
            guard case .mapping(let map) = sanitizeNode else { throw fail("sanitize must be a mapping") }
            let sanitize = try mapping(map, known: ["keep_orientation", "keep_icc"], place: "sanitize.", fail: fail)
            config.sanitize.keepOrientation = try flag(sanitize, "keep_orientation", "sanitize.") ?? true
            config.sanitize.keepICC = try flag(sanitize, "keep_icc", "sanitize.") ?? true
        }
        config.sanitize.verifyDecode = try flag(top, "verify_decode", "") ?? false
        if let node = top["max_hidden_lead_in_seconds"] {
            // A movie trimmed to what its edit lists show keeps at most this much hidden media (a video's lead-in from
            // the key frame before its first shown frame); 0 refuses any hidden frame.
            guard let value = node.scalar.flatMap({ Double($0.string) }), value.isFinite, value >= 0, value <= 60 else {
                throw fail("max_hidden_lead_in_seconds must be a number of seconds from 0 to 60")
            }
            config.sanitize.maxHiddenLeadInSeconds = value
        }
        try config.readOfficeKeys(top, resolve: resolve, fail: fail)
        try config.parsePeople(top, fail: fail)
        try config.checkLayout(fail: fail)
        return config
    }

    static func mapping(_ map: Node.Mapping, known: Set<String>, place: String, fail: (String) -> PipelineError)
        throws(PipelineError)
        -> [String: Node]
    {
        var values: [String: Node] = [:]
        for (key, value) in map {
            guard let name = key.string else {
                throw fail("a key in \(place.isEmpty ? "the file" : place) is not text")
            }
            guard known.contains(name) else { throw fail("unknown key \(place)\(name)") }
            guard values.updateValue(value, forKey: name) == nil else {
                throw fail("key \(place)\(name) appears twice")
            }
        }
        return values
    }

    /// Every place the pipeline reads or writes, named as in the YAML file (a PostgreSQL ledger is no place).
    public var places: [(key: String, path: String)] {
        [
            ("folders.inbox", inbox), ("folders.publish", publish), ("folders.quarantine", quarantine),
            ("folders.archive", archive), ("folders.retracted", retracted), ("work", work),
            ("authorizations", authorizations), ("ledger", ledger), ("trust", trust),
        ].filter { postgres == nil || $0.key != "ledger" }
    }

    /// SPEC §1: the folders, the work folder, the authorizations folder, the ledger and the trust file must be
    /// distinct and none may lie inside another, compared after resolving links (a publish folder that is a link
    /// into the archive would publish originals). Run at load and again before each pass (links can appear later).
    func checkLayout(real: [String: String] = [:], fail: (String) -> PipelineError) throws(PipelineError) {
        let resolved = places.map {
            (key: $0.key, given: $0.path, real: real[$0.key] ?? PipelineConfig.resolveLinks($0.path))
        }
        func inside(_ child: String, _ parent: String) -> Bool {
            child == parent || parent == "/" || child.hasPrefix(parent + "/")
        }
        for (i, a) in resolved.enumerated() {
            for b in resolved[(i + 1)...] {
                let relation = a.real == b.real ? "is the same place as" : inside(a.real, b.real) ? "lies inside" : nil
                if let relation {
                    throw fail("\(a.key) (\(a.given)) \(relation) \(b.key) (\(b.given)); they must be distinct and apart")
                }
                if inside(b.real, a.real) {
                    throw fail("\(b.key) (\(b.given)) lies inside \(a.key) (\(a.given)); they must be distinct and apart")
                }
            }
        }
    }

    /// "." and ".." and repeated slashes taken out of an absolute path, textually: links are NOT resolved here
    /// (Foundation's `standardizingPath` may resolve them, which would hide an inbox swapped for a link).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                _ = parts.popLast()
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Pipelines run together (one `run` or `watch` command) must not share folders either: one's quarantine must
    /// not be another's publish folder. The authorizations folder, the trust file and the ledger may be shared.
    public static func checkTogether(_ configs: [PipelineConfig]) throws(PipelineError) {
        let shareable: Set<String> = ["authorizations", "ledger", "trust"]
        func inside(_ child: String, _ parent: String) -> Bool { child == parent || child.hasPrefix(parent + "/") }
        for (i, a) in configs.enumerated() {
            for b in configs[(i + 1)...] {
                for x in a.places {
                    for y in b.places where !(shareable.contains(x.key) && x.key == y.key && x.path == y.path) {
                        if shareable.contains(x.key) && shareable.contains(y.key) { continue }
                        let rx = resolveLinks(x.path)
                        let ry = resolveLinks(y.path)
                        if inside(rx, ry) || inside(ry, rx) {
                            throw PipelineError(
                                "\(a.file): \(x.key) (\(x.path)) overlaps \(b.file): \(y.key) (\(y.path)); pipelines run "
                                    + "together must keep their folders apart")
                        }
                    }
                }
            }
        }
    }

    /// The path with every link in its existing part resolved (the rest, not yet created, appended as written).
    public static func resolveLinks(_ path: String) -> String {
        var existing = path
        var rest: [String] = []
        while true {
            if let real = realpath(existing, nil) {
                defer { free(real) }
                let base = String(cString: real)
                return rest.isEmpty ? base : (base == "/" ? "" : base) + "/" + rest.reversed().joined(separator: "/")
            }
            let parent = (existing as NSString).deletingLastPathComponent
            if parent == existing || parent.isEmpty { return path }
            rest.append((existing as NSString).lastPathComponent)
            existing = parent
        }
    }

    /// Opens the folders a run works in, once, and checks the layout against where those open folders really are
    /// (from the descriptors, not the names), so that what was checked is what is used: a folder renamed or
    /// swapped for a link after this point changes nothing. The returned configuration names each folder through
    /// its descriptor (`/proc/self/fd/N`, which Linux resolves to the open folder itself).
    public func hold() throws(PipelineError) -> (PipelineConfig, HeldFolders) {
        var opened: [String: Directory] = [:]
        var real: [String: String] = [:]
        var held = self
        for (key, path) in places where key.hasPrefix("folders.") || key == "work" {
            // The inbox and the work folder sit on the share, where staff could swap them for links: never
            // through a link (their parents may be). ConsentGate's other folders may be links (resolved below).
            let strict = key == "folders.inbox" || key == "work"
            guard let folder = Directory(Array(path.utf8), in: nil, followLinks: !strict) else {
                let why =
                    errno == ELOOP || errno == ENOTDIR
                    ? "it is a symbolic link (never followed) or not a folder" : String(cString: strerror(errno))
                throw PipelineError("\(file): cannot open \(key) \(path): \(why)")
            }
            var info = stat()
            if key != "folders.inbox", fstat(folder.fd, &info) == 0,
                info.st_mode & (key == "folders.publish" ? 0o002 : 0o022) != 0
            {
                throw PipelineError(
                    "\(file): \(key) \(path) may be written by \(key == "folders.publish" ? "anyone" : "group or others") "
                        + "(mode \(String(info.st_mode & 0o777, radix: 8))); it is ConsentGate's own: chmod go-w it")
            }
            opened[key] = folder
            guard let location = folder.location else {
                throw PipelineError("\(file): cannot tell where \(key) \(path) is (is /proc mounted?)")
            }
            real[key] = location
        }
        try checkLayout(real: real) { PipelineError("\(file): \($0)") }
        func via(_ key: String) -> String { "/proc/self/fd/\(opened[key]!.fd)" }
        held.publish = via("folders.publish")
        held.quarantine = via("folders.quarantine")
        held.archive = via("folders.archive")
        held.retracted = via("folders.retracted")
        held.work = via("work")
        return (held, HeldFolders(inbox: opened["folders.inbox"]!, others: Array(opened.values)))
    }

    /// Checks what must exist and creates ConsentGate's own folders (quarantine, archive, retracted: 0700).
    /// With `create: false` (a dry run) it only checks, and creates nothing.
    public func prepare(create: Bool = true) throws(PipelineError) {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: inbox, isDirectory: &isFolder), isFolder.boolValue else {
            throw PipelineError("\(file): folders.inbox \(inbox) does not exist")
        }
        // A missing authorizations folder (a share not mounted) or an unusable trust file does not stop the run:
        // its records then verify nothing, so nothing new is published and the sweep withdraws what is published,
        // loudly (`PipelineRecords.loadNoting`, SPEC §6).
        for (folder, mode) in [
            (publish, 0o755), (quarantine, 0o700), (archive, 0o700), (retracted, 0o700), (work, 0o700),
        ] {
            if !create {
                if manager.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
                    throw PipelineError("\(file): \(folder) is not a folder")
                }
                continue
            }
            do {
                try manager.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
                if mode == 0o700 { try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: folder) }
            } catch { throw PipelineError("\(file): cannot create \(folder): \(error.localizedDescription)") }
            guard manager.isWritableFile(atPath: folder) else {
                throw PipelineError("\(file): \(folder) is not writable")
            }
        }
        try checkLayout { PipelineError("\(file): \($0)") }
        let ledgerFolder = (ledger as NSString).deletingLastPathComponent
        if !create { return }
        var inboxInfo = stat()
        var workInfo = stat()
        guard stat(inbox, &inboxInfo) == 0, stat(work, &workInfo) == 0, inboxInfo.st_dev == workInfo.st_dev else {
            throw PipelineError(
                "\(file): the work folder \(work) is not on the inbox's filesystem (\(inbox)); a claim must be one "
                    + "atomic rename: set work: to a folder on the same share, outside the inbox")
        }
        if postgres != nil { return }
        do { try manager.createDirectory(atPath: ledgerFolder, withIntermediateDirectories: true) } catch {
            throw PipelineError("\(file): cannot create the ledger's folder \(ledgerFolder)")
        }
        guard manager.isWritableFile(atPath: ledgerFolder) else {
            throw PipelineError("\(file): the ledger's folder \(ledgerFolder) is not writable")
        }
    }
}

/// The folders of one run, held open for as long as it lasts.
public final class HeldFolders: Sendable {
    let inbox: Directory
    let others: [Directory]
    init(inbox: Directory, others: [Directory]) {
        self.inbox = inbox
        self.others = others
    }
}
