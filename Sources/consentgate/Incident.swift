import ArgumentParser
import ByteKit
import ConsentRecords
import Foundation
import Pipeline

/// `consentgate incident`: scope a breach from the ledger, take it down everywhere with a signed record, lift it,
/// and report its timeline (SPEC §6).
struct Incident: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Incident response: what was published under a record, subject, key, picture or channel; take it down.",
        discussion: """
            consentgate incident scope --pipeline site.yml --key 0123456789ABCDEF
            consentgate incident takedown --pipeline site.yml --key 0123456789ABCDEF --reason "key leaked" \\
                --signing-key office-takedown.key --out authorizations/
            consentgate incident lift TD-20261207T101500Z --key office-takedown.key --out authorizations/
            consentgate incident report TD-20261207T101500Z --pipeline site.yml --out report.html

            Every pipeline sharing the ledger withdraws what a takedown selects on its next run (a notify event per \
            file) and publishes nothing it selects until a signed lift. See docs/incident-response.md.
            """,
        subcommands: [IncidentScopeCommand.self, IncidentTakedown.self, IncidentLift.self, IncidentReport.self])
}

/// The selectors shared by `scope` and `takedown`: kinds combine (all must match), values of one kind add up.
struct IncidentSelectors: ParsableArguments {
    @Option(name: .customLong("record"), help: "An authorization id (its supersedes chain too); repeatable.")
    var records: [String] = []
    @Option(name: .customLong("subject"), help: "A pseudonymous subject reference; repeatable.")
    var subjects: [String] = []
    @Option(
        name: .customLong("key"),
        help: "Everything this key signed: its key id (16 hex digits), .pub or .key file; repeatable.")
    var keys: [String] = []
    @Option(name: .customLong("asset"), help: "An asset id from the ledger or a notice; repeatable.")
    var assets: [String] = []
    @Option(name: .customLong("fingerprint"), help: "A picture's presented_sha256 or file_sha256; repeatable.")
    var fingerprints: [String] = []
    @Option(name: .customLong("channel"), help: "Only on this channel; repeatable.") var channels: [String] = []
    @Option(name: .customLong("in-pipeline"), help: "Only publications of this pipeline (its name); repeatable.")
    var pipelines: [String] = []
    @Option(
        name: .customLong("published-between"), parsing: .upToNextOption,
        help: ArgumentHelp(
            "Only what was published in this period: FROM TO (RFC 3339 times or YYYY-MM-DD days, UTC, both included).",
            valueName: "FROM TO"))
    var period: [String] = []
    @Flag(help: "Everything the other selectors allow (with --channel: the whole channel).") var all = false

    func selectors() throws(RecordError) -> TakedownSelectors {
        var s = TakedownSelectors()
        s.records = records
        s.subjects = subjects
        for value in keys { s.keys.append(try Self.keyID(value)) }
        s.assets = assets
        s.fingerprints = fingerprints.map { $0.lowercased() }
        s.channels = channels
        s.pipelines = pipelines
        s.all = all
        if !period.isEmpty {
            guard period.count == 2, let from = Self.time(period[0], end: false),
                let to = Self.time(period[1], end: true)
            else {
                throw RecordError(reason: "--published-between takes FROM TO: RFC 3339 times or YYYY-MM-DD days")
            }
            s.publishedFrom = from
            s.publishedTo = to
        }
        return s
    }

    /// A key id from 16 hex digits or a minisign `.pub` file.
    static func keyID(_ value: String) throws(RecordError) -> String {
        let upper = value.uppercased()
        if upper.utf8.count == 16, upper.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) }) {
            return upper
        }
        guard let text = try? String(contentsOfFile: value, encoding: .utf8) else {
            throw RecordError(reason: "--key \(value): neither a key id (16 hex digits) nor a readable .pub file")
        }
        if let key = try? Minisign.PublicKey(parsing: text) { return key.keyIDHex }
        // A secret key file selects what its key signed too (its public half's id).
        if let key = try? Minisign.SecretKey(parsing: text) { return key.publicKey.keyIDHex }
        throw RecordError(reason: "--key \(value): neither a key id, a minisign public key file nor a key file")
    }

    static func time(_ text: String, end: Bool) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        guard CalendarDay(text) != nil, let start = Timestamp.parse(text + "T00:00:00Z") else { return nil }
        return end ? start.addingTimeInterval(86_399) : start
    }
}

struct IncidentScopeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scope",
        abstract:
            "Every publication matching the selectors, from the ledger: where, when, under which records, live or withdrawn.",
        discussion: """
            Answers from the ledger the pipeline uses (every pipeline sharing it). Names no patient: assets by \
            opaque id, records by id. Without selectors, every publication. Exit status: 0; 1 the ledger's chain \
            is broken; 2 error.
            """)

    @Option(help: "A pipeline file (its ledger and records are read).") var pipeline: String
    @OptionGroup var select: IncidentSelectors
    @Flag(help: "JSON instead of the page.") var json = false
    @Option(help: "Where to write it (mode 0600): a new file, or - for standard output.") var out = "-"
    @Flag(help: "Replace the file at --out if there is one (a regular file only).") var overwrite = false

    func run() throws {
        do {
            let selectors = try select.selectors()
            let config = try PipelineConfig.load(path: pipeline)
            let now = Date()
            guard let ledger = try LedgerStores.openIfPresent(config) else {
                throw PipelineError("no ledger for \(pipeline): nothing was ever published", exitCode: 1)
            }
            defer { ledger.disconnect() }
            let (registry, warnings) = try IncidentScope.registry(config: config, ledger: ledger, now: now)
            for warning in warnings { Output.error("incident scope: warning: \(warning)") }
            let scope = try IncidentScope.make(selectors: selectors, ledger: ledger, registry: registry, now: now)
            let text =
                json
                ? scope.json(now: now)
                : scope.html(
                    title: "Incident scope", intro: "What the ledger holds of publications matching the selectors.",
                    timeZone: config.timeZone, now: now)
            try OutputFile.write(Array(text.utf8), to: out, mode: 0o600, overwrite: overwrite, pipelines: [config])
            Output.error(
                "incident scope: \(scope.entries.count) publication(s) match, \(scope.liveCount) live now; ledger "
                    + (scope.chainProblems.isEmpty ? "intact" : "BROKEN"))
            if !scope.chainProblems.isEmpty { throw ExitCode(1) }
        } catch let error as RecordError {
            Output.error("incident scope: \(Escape.display(error.description))")
            throw ExitCode(2)
        } catch let error as PipelineError {
            Output.error("incident scope: \(error)")
            throw ExitCode(error.exitCode)
        }
    }
}

struct IncidentTakedown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "takedown",
        abstract:
            "Write a signed takedown: every pipeline withdraws what it selects on its next run and publishes none of it.",
        discussion: """
            The takedown stays in force (the ledger remembers it, even if its file is deleted) until a signed lift \
            (consentgate incident lift). Selectors must name records, subjects, keys, assets or fingerprints, or \
            say --all (e.g. --channel instagram --all: the account was hacked). --dry-run lists what it would take \
            down (needs --pipeline). Exit status: 0 written (or listed); 2 error.
            """)

    @OptionGroup var select: IncidentSelectors
    @Option(help: "Why (for the incident's record; never a patient's name).") var reason: String
    @Option(help: "The signing key (NAME.key, mode 0600; its trust entry needs the role takedown).")
    var signingKey: String?
    @Option(help: "The takedown's id (default TD-TIMESTAMP).") var id: String?
    @Option(help: "Who records it (a staff id, not a name).") var recordedBy: String?
    @Option(help: "The authorizations folder to write the record into.") var out: String?
    @Option(help: "A pipeline file: with --dry-run, what its ledger says would be taken down.") var pipeline: String?
    @Flag(help: "Write nothing; list the live publications it would take down.") var dryRun = false

    func run() throws {
        do {
            let now = Date()
            let selectors = try select.selectors()
            try selectors.validate()
            let stamp = Timestamp.format(now).filter { $0.isNumber || $0 == "T" || $0 == "Z" }
            let takedown = Takedown(
                id: id ?? "TD-\(stamp)", select: selectors, reason: reason, recordedBy: recordedBy, recordedAt: now)
            guard RecordParser.isValidID(takedown.id) else {
                throw RecordError(reason: "--id is not a valid record id")
            }
            if dryRun {
                guard let pipeline else { throw RecordError(reason: "--dry-run needs --pipeline P.yml") }
                let config = try PipelineConfig.load(path: pipeline)
                guard let ledger = try LedgerStores.openIfPresent(config) else {
                    print("no ledger: nothing is published, nothing would be taken down")
                    return
                }
                defer { ledger.disconnect() }
                let (registry, _) = try IncidentScope.registry(config: config, ledger: ledger, now: now)
                let scope = try IncidentScope.make(selectors: selectors, ledger: ledger, registry: registry, now: now)
                let live = scope.entries.filter(\.live)
                print("would take down \(live.count) live publication(s) (\(selectors.words)):")
                for entry in live {
                    print(
                        "  \(entry.asset) \(entry.pipeline)/\(entry.channel ?? "?") \(entry.publishedName ?? "") "
                            + "records \(entry.records.joined(separator: ","))")
                }
                return
            }
            guard let signingKey, let out else {
                throw RecordError(reason: "--signing-key K.key (the key that signs the takedown; its trust entry needs the role "
                        + "takedown) and --out AUTHORIZATIONS_DIR are needed to write it (--key selects what a key "
                        + "signed; --dry-run writes nothing)")
            }
            let key = try KeyFiles.loadSecretKey(path: signingKey)
            let json = RecordWriter.json(takedown)
            let path = try RecordWriter.write(json, record: .takedown(takedown), to: out, key: key, now: now)
            print(
                "written \(Escape.display(path)) and its .minisig (key \(key.publicKey.keyIDHex)): takedown \(takedown.id)"
            )
            print(
                "every pipeline withdraws what it selects on its next run; end it with: consentgate incident lift \(takedown.id)"
            )
        } catch let error as RecordError {
            Output.error("incident takedown: \(Escape.display(error.description))")
            throw ExitCode(2)
        } catch let error as PipelineError {
            Output.error("incident takedown: \(error)")
            throw ExitCode(2)
        }
    }
}

struct IncidentLift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lift",
        abstract: "Write a signed lift that ends a takedown (the pictures may then be dropped again).",
        discussion: "Exit status: 0 written; 2 error.")

    @Argument(help: "The takedown's id.") var takedown: String
    @Option(
        name: [.customLong("key"), .customLong("signing-key")],
        help: "The signing key (NAME.key, mode 0600; its trust entry needs the role takedown).")
    var key: String
    @Option(help: "Why it is lifted.") var reason: String?
    @Option(help: "The lift's own id (default TAKEDOWN-lifted-TIMESTAMP).") var id: String?
    @Option(help: "Who records it (a staff id, not a name).") var recordedBy: String?
    @Option(help: "The authorizations folder to write the record into.") var out: String

    func run() throws {
        do {
            guard RecordParser.isValidID(takedown) else { throw RecordError(reason: "\(takedown) is not a valid id") }
            let now = Date()
            let stamp = Timestamp.format(now).filter { $0.isNumber || $0 == "T" || $0 == "Z" }
            let lift = TakedownLift(
                id: id ?? "\(takedown)-lifted-\(stamp)", takedown: takedown, reason: reason, recordedBy: recordedBy,
                recordedAt: now)
            let signing = try KeyFiles.loadSecretKey(path: key)
            let path = try RecordWriter.write(
                RecordWriter.json(lift), record: .takedownLift(lift), to: out, key: signing, now: now)
            print(
                "written \(Escape.display(path)) and its .minisig (key \(signing.publicKey.keyIDHex)): lifts \(takedown)"
            )
        } catch let error as RecordError {
            Output.error("incident lift: \(Escape.display(error.description))")
            throw ExitCode(2)
        }
    }
}

struct IncidentReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "The timeline of a takedown: when it was recorded, each withdrawal and where, what is still published.",
        discussion: """
            Exit status: 0 nothing it selects is published and the ledger is intact; 1 something is still \
            published (and the takedown is not lifted) or the ledger's chain is broken; 2 error.
            """)

    @Argument(help: "The takedown's id.") var takedown: String
    @Option(help: "A pipeline file (its ledger and records are read).") var pipeline: String
    @Flag(help: "JSON instead of the page.") var json = false
    @Option(help: "Where to write it (mode 0600): a new file, or - for standard output.") var out = "-"
    @Flag(help: "Replace the file at --out if there is one (a regular file only).") var overwrite = false

    func run() throws {
        do {
            let config = try PipelineConfig.load(path: pipeline)
            let now = Date()
            let ledger = try LedgerStores.open(config, create: false)
            defer { ledger.disconnect() }
            let (registry, warnings) = try IncidentScope.registry(config: config, ledger: ledger, now: now)
            for warning in warnings { Output.error("incident report: warning: \(warning)") }
            let timeline = try IncidentTimeline.make(id: takedown, ledger: ledger, registry: registry, now: now)
            let text = json ? timeline.json(now: now) : timeline.html(timeZone: config.timeZone, now: now)
            try OutputFile.write(Array(text.utf8), to: out, mode: 0o600, overwrite: overwrite, pipelines: [config])
            Output.error(
                "incident report: \(timeline.scope.entries.count) publication(s) selected, "
                    + "\(timeline.stillLive.count) still published; ledger "
                    + (timeline.scope.chainProblems.isEmpty ? "intact" : "BROKEN"))
            if !timeline.scope.chainProblems.isEmpty || (!timeline.lifted && !timeline.stillLive.isEmpty) {
                throw ExitCode(1)
            }
        } catch let error as PipelineError {
            Output.error("incident report: \(error)")
            throw ExitCode(error.exitCode)
        }
    }
}
