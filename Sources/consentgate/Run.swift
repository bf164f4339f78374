import ArgumentParser
import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import MediaWorker
import Pipeline

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "One pass over each pipeline (the cron job): publish what is consented and clean, quarantine the rest.",
        discussion: """
            consentgate run Pipelines/website.yml Pipelines/instagram.yml

            Each pass recovers files an interrupted run had claimed, takes every settled file in the inbox, \
            publishes it sanitized under an opaque name (the original goes to the archive) or quarantines the \
            original with ASSET.reason.json, and retracts published pictures whose consent has expired or been \
            revoked. --dry-run reports what would happen and changes nothing. \
            Exit status: 0 all published or nothing to do; 1 something quarantined or retracted (a person \
            should look); 2 usage or configuration error; 3 a file could not be brought to an outcome.
            """)

    @Argument(help: "Pipeline files (YAML).") var pipelines: [String]
    @Flag(help: "Decide and report, but claim, move and record nothing.") var dryRun = false
    @Flag(help: "Print the summaries as JSON.") var json = false
    @Flag(help: "Print nothing when nothing needs a person (exit status 0): for cron, which mails what is printed.")
    var quiet = false

    func run() throws {
        var summaries: [RunSummary] = []
        var status: Int32 = 0
        do { try PipelineConfig.checkTogether(pipelines.compactMap { try? PipelineConfig.load(path: $0) }) } catch {
            Output.error("run: \(error)")
            throw ExitCode(2)
        }
        for path in pipelines {
            let terminal = Output.stderrIsTerminal && !json && !quiet
            do throws(PipelineError) {
                let config = try PipelineConfig.load(path: path)
                let name = config.name
                let progress: (@Sendable (String) -> Void)? =
                    terminal
                    ? { @Sendable (step: String) in Output.error("\r\(name): \(step)\u{1B}[K", terminator: "") } : nil
                let media = try Workers.media(for: config)
                defer { media.shutdown() }
                let runner = Runner(config: config, progress: progress, logger: Logs.pipeline, media: media)
                let summary = try runner.run(dryRun: dryRun, secondLook: true)
                if terminal { Output.error("") }
                summaries.append(summary)
                // The office app's data (office_export:), refreshed after the run; a failure changes no outcome.
                if !dryRun, let export = config.office.export {
                    do throws(PipelineError) { try OfficeExport.write(config: config, to: export, media: media) } catch {
                        Output.error("run: \(name): the office export was not refreshed: \(error)")
                        status = max(status, 1)
                    }
                }
                status = max(status, summary.exitCode == 3 ? 3 : summary.exitCode)
            } catch {
                Output.error("run: \(error)")
                status = max(status, error.exitCode)
            }
        }
        if quiet && status == 0 { return }
        if json {
            Output.json(summaries)
        } else {
            for summary in summaries {
                print(
                    "\(Escape.display(summary.pipeline))\(summary.dryRun ? " (dry run)" : ""): \(summary.published) published, "
                        + "\(summary.quarantined) quarantined, \(summary.retracted) retracted, \(summary.left) left, "
                        + "\(summary.unsettled) still settling, \(summary.invalidRecords.count) invalid record(s)"
                        + (summary.released > 0 ? ", \(summary.released) of the published released from pending" : "")
                        + (summary.duplicates > 0 ? ", \(summary.duplicates) duplicate(s) archived" : "")
                        + (summary.notifyFailures > 0 ? ", \(summary.notifyFailures) notification(s) FAILED" : ""))
                if let why = summary.unsandboxed { print("  UNSANDBOXED: \(why)") }
                if let people = summary.peopleCheck { print("  \(people)") }
                for line in summary.configurationProblems { print("  \(Escape.display(line))") }
                if !summary.folders.isEmpty {
                    // How files are moved without replacing anything, per folder (docs/shares.md).
                    let modes = Set(summary.folders.map(\.moves))
                    print(
                        "  moves: "
                            + (modes.count == 1
                                ? "\(modes.first!) in every folder"
                                : summary.folders.map { "\($0.folder) \($0.moves)" }.joined(separator: ", ")))
                }
                for line in summary.ledgerProblems { print("  LEDGER BROKEN: \(line)") }
                for line in summary.recordsGone { print("  RECORD GONE: \(Escape.display(line))") }
                for line in summary.publishingStopped { print("  NOTHING NEW PUBLISHED: \(line)") }
                for record in summary.invalidRecords {
                    let blocks = record.blocks.isEmpty ? "" : " (blocks \(record.blocks.joined(separator: ", ")))"
                    print("  invalid record \(record.file): \(Escape.display(record.reason))\(blocks)")
                }
                for warning in summary.warnings { print("  warning: \(Escape.display(warning))") }
                for item in summary.items where item.outcome != .published && item.outcome != .released {
                    print("  \(item.outcome.rawValue) \(item.asset): \(Escape.display(item.reasons.joined(separator: "; ")))")
                }
                if summary.itemsOmitted > 0 {
                    print("  (\(summary.itemsOmitted) more; see the ledger: consentgate audit report)")
                }
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the ledger's hash chain, or report what was published, quarantined and retracted.",
        subcommands: [Verify.self, Report.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the ledger's hash chain: any edited, deleted or reordered event is found.",
            discussion: "Exit status: 0 intact; 1 broken chain; 2 usage or configuration error.")
        @Option(help: "The pipeline file.") var pipeline: String

        func run() throws {
            do {
                let config = try PipelineConfig.load(path: pipeline)
                let ledger = try LedgerStores.open(config, create: false)
                defer { ledger.disconnect() }
                let problems = try ledger.verifyChain()
                if problems.isEmpty {
                    print("ledger intact: \(try ledger.events().count) events")
                } else {
                    for problem in problems { print("BROKEN: \(problem)") }
                    throw ExitCode(1)
                }
            } catch let error as PipelineError {
                Output.error("audit verify: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What was published, quarantined and retracted, when, under which authorization (JSON or HTML).",
            discussion:
                "The report names assets by their opaque ids and hashes, never by file or person. Exit status: 0; 1 broken chain; 2 error."
        )
        @Option(help: "The pipeline file.") var pipeline: String
        @Option(help: "json or html.") var format: String
        @Option(help: "Where to write the report: a new file, or - for standard output.") var out: String
        @Flag(help: "Replace the file at --out if there is one (a regular file only).") var overwrite = false

        func run() throws {
            guard format == "json" || format == "html" else { throw ValidationError("--format must be json or html") }
            do {
                let config = try PipelineConfig.load(path: pipeline)
                if let why = OutputFile.problem(out, overwrite: overwrite, pipelines: [config]) {
                    throw PipelineError("cannot write \(out): \(why)")
                }
                let (text, events, problems) = try AuditReport.make(config: config, html: format == "html")
                // Private like the ledger it comes from (0600): it lists every asset and record id.
                try OutputFile.write(Array(text.utf8), to: out, mode: 0o600, overwrite: overwrite, pipelines: [config])
                let line =
                    "written \(out == "-" ? "to standard output" : out): \(events) events, chain \(problems.isEmpty ? "intact" : "BROKEN")"
                if out == "-" { Output.error(line) } else { print(line) }
                if !problems.isEmpty { throw ExitCode(1) }
            } catch let error as PipelineError {
                Output.error("audit report: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }
}
