import ArgumentParser
import ConsentRecords
import Foundation

/// Where the records and the trusted keys are, and the moment to judge them at.
struct RecordSources: ParsableArguments {
    @Option(help: "Folder of signed records (NAME.json + NAME.json.minisig).") var authorizations: String?
    @Option(help: "Trust file (YAML list of trusted keys).") var trust: String?
    @Option(help: "Judge as of this moment (RFC 3339) instead of now, e.g. for an audit.") var asOf: String?
    @Option(help: "Time zone of the records' days (e.g. America/Chicago; default UTC).") var timeZone: String?

    func zone() throws -> TimeZone {
        guard let timeZone else { return Registry.utc }
        guard let zone = TimeZone(identifier: timeZone) else {
            throw ValidationError(
                "--time-zone \(Escape.display(timeZone)) is not a known time zone (e.g. Europe/Paris)")
        }
        return zone
    }

    func moment() throws -> Date {
        guard let asOf else { return Date() }
        guard let date = Timestamp.parse(asOf) else {
            throw ValidationError("--as-of must be RFC 3339, e.g. 2026-05-01T00:00:00Z")
        }
        return date
    }

    /// The registry, or exit 2 with the configuration error. `fallback` supplies the folder and trust file
    /// (from a pipeline) when they were not given.
    func registry(
        now: Date, command: String, fallback: (authorizations: String, trust: String)? = nil,
        fallbackTimeZone: TimeZone? = nil
    ) throws -> Registry {
        guard let folder = authorizations ?? fallback?.authorizations, let trustFile = trust ?? fallback?.trust else {
            Output.error("\(command): give --authorizations DIR and --trust FILE")
            throw ExitCode(2)
        }
        let zone = timeZone == nil ? (fallbackTimeZone ?? Registry.utc) : try zone()
        do {
            let store = try TrustStore.load(path: trustFile)
            return try Registry.load(folder: folder, trust: store, now: now, timeZone: zone)
        } catch let error as TrustStoreError {
            Output.error("\(command): \(Escape.display(error.description))")
            throw ExitCode(2)
        } catch let error as RecordError {
            Output.error("\(command): \(Escape.display(error.description))")
            throw ExitCode(2)
        }
    }
}

struct Records: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check signed records.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record and signature in a folder; list the invalid ones with why.",
            discussion: """
                Each record must be signed (minisign format) by a key in the trust file that has the role for its \
                type, is not compromised, and was valid when it signed; its JSON must have no unknown fields, \
                duplicate keys, wrong types or missing required fields; its file name must be its id. Records \
                that lack a field an auditor expects are listed as warnings. Every other entry of the folder \
                (another name, a hidden file, a signature without its record, a subfolder, a link) is invalid \
                too: it blocks the authorizations it names, and where it names none, nothing new is published \
                until it is fixed or removed. With --evidence-folder, each signed form (form.document_sha256) and \
                letter (evidence_sha256) a valid record names must be in that folder with those bytes (EVIDENCE \
                lines). Names and fields are printed escaped (\\n, \\xNN). Exit status: 0 all valid; 1 some \
                invalid, or evidence missing or altered; 2 usage or configuration error.
                """)

        @OptionGroup var sources: RecordSources
        @Flag(help: "Print the report as JSON.") var json = false
        @Option(help: "The evidence folder: check that every document a record names is there and unaltered.")
        var evidenceFolder: String?

        struct Report: Encodable {
            struct Bad: Encodable {
                var file: String
                /// The name escaped as the text report prints it (exact for bytes that are not UTF-8).
                var fileEscaped: String
                var id: String?
                var reason: String
                /// Authorization ids it blocks.
                var blocks: [String]
                /// Nothing new is published while it is there.
                var global: Bool
            }
            struct Warning: Encodable {
                var id: String
                var warning: String
            }
            var valid: Int
            var invalid: [Bad]
            var warnings: [Warning]
            var folderWarnings: [String]
            var evidence: [EvidenceProblem]
        }

        func run() throws {
            let registry = try sources.registry(now: try sources.moment(), command: "records verify")
            var warnings: [Report.Warning] = []
            for (id, record) in registry.authorizations.sorted(by: { $0.key < $1.key }) {
                warnings += record.warnings.map { Report.Warning(id: id, warning: $0) }
            }
            let report = Report(
                valid: registry.verifiedCount,
                invalid: registry.invalid.map {
                    .init(
                        file: $0.file, fileEscaped: $0.displayFile, id: $0.id, reason: $0.reason, blocks: $0.blocks,
                        global: $0.global)
                },
                warnings: warnings, folderWarnings: registry.warnings,
                evidence: evidenceFolder.map { EvidenceProblem.all(in: registry, folder: $0) } ?? [])
            if json {
                Output.json(report)
            } else {
                // Every name and field is escaped: a file named "a\n3 valid, 0 invalid\n.json" prints one line.
                for bad in report.invalid {
                    let effect =
                        bad.global
                        ? "names no authorization: nothing new is published until it is fixed or removed"
                        : "blocks " + bad.blocks.map(Escape.display).joined(separator: ", ")
                    print("INVALID \(bad.fileEscaped): \(Escape.display(bad.reason)) [\(effect)]")
                }
                for warning in report.warnings {
                    print("warning \(Escape.display(warning.id)): \(Escape.display(warning.warning))")
                }
                for warning in report.folderWarnings { print("warning: \(Escape.display(warning))") }
                for problem in report.evidence {
                    print("EVIDENCE \(Escape.display(problem.id)): \(problem.sha256) \(Escape.display(problem.problem))")
                }
                print("\(report.valid) valid, \(report.invalid.count) invalid")
            }
            if !report.invalid.isEmpty || !report.evidence.isEmpty { throw ExitCode(1) }
        }
    }
}

/// A document a valid record names that the evidence folder lacks, or holds altered.
struct EvidenceProblem: Encodable {
    var id: String
    var sha256: String
    var problem: String

    static func all(in registry: Registry, folder: String) -> [EvidenceProblem] {
        var named: [(String, String)] = []
        for (id, verified) in registry.authorizations.sorted(by: { $0.key < $1.key }) {
            if case .authorization(let authorization) = verified.record, let hash = authorization.form?.documentSHA256 {
                named.append((id, hash))
            }
        }
        for revocation in registry.revocations.values.flatMap({ $0 }).sorted(by: { $0.id < $1.id }) {
            if let hash = revocation.evidenceSHA256 { named.append((revocation.id, hash)) }
        }
        return named.compactMap { id, hash in
            EvidenceFolder.check(hash, in: folder).map { EvidenceProblem(id: id, sha256: hash, problem: $0) }
        }
    }
}
