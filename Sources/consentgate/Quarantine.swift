import ArgumentParser
import ConsentRecords
import Foundation
import MediaWorker
import Pipeline

struct QuarantineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "The privacy office's view of quarantined files, and deciding the pending ones now.",
        subcommands: [List.self, Recheck.self, PurgeOld.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every quarantined file: asset id, age, inbox subfolder, original name, reasons, pending or not.",
            discussion: """
                consentgate quarantine list --pipeline /etc/consentgate/website.yml

                A file is pending when every reason is one a new record can cure (no record lists it, not yet \
                effective, not everyone in it consented, channel or purpose not permitted): each run decides it \
                again for pending_days and publishes it once it passes. The list shows original names: it is the \
                privacy office's own view. Exit status: 0; 2 configuration error.
                """)
        @Option(help: "The pipeline file.") var pipeline: String
        @Flag(help: "Print the list as JSON.") var json = false

        func run() throws {
            let entries: [QuarantineEntry]
            let zone: TimeZone
            do {
                let config = try PipelineConfig.load(path: pipeline)
                zone = config.timeZone
                entries = try QuarantineState.list(config: config)
            } catch {
                Output.error("quarantine list: \(error)")
                throw ExitCode(error.exitCode == 1 ? 2 : error.exitCode)
            }
            if json {
                Output.json(entries)
                return
            }
            let pending = entries.filter(\.pending).count
            // One zone for the whole list, the pipeline's (as the audit report and the review page), and said.
            print(
                "\(entries.count) quarantined file(s), \(pending) pending (decided again on every run); times in "
                    + (PlainWords.zoneName(zone) == "UTC" ? "UTC" : "\(zone.identifier) (\(PlainWords.zoneName(zone)))"))
            for entry in entries {
                // Names are kept escaped in the reason files already (\n, \xNN): printed as they are.
                let folder = entry.subfolder.isEmpty ? "the inbox" : "inbox/\(entry.subfolder)"
                print(
                    "\(entry.asset)  quarantined \(PlainWords.time(entry.quarantinedAt, in: zone)) "
                        + "(\(entry.ageDays) day(s) ago)  in \(folder)  "
                        + "\"\((entry.originalName as NSString).lastPathComponent)\"")
                print(
                    entry.pending
                        ? "  pending until \(entry.pendingUntil.map { PlainWords.time($0, in: zone) } ?? "?")"
                        : "  not pending: \(entry.notPendingBecause ?? "")")
                for reason in entry.reasons {
                    print("  - \(Escape.display(reason.message))")
                    print("    what to do: \(reason.whatToDo)")
                }
                if let content = entry.presentedSHA256 { print("  presented_sha256: \(content)") }
            }
        }
    }

    struct Recheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decide the pending quarantined files now against today's records (publishes those that pass).",
            discussion: """
                consentgate quarantine recheck --pipeline /etc/consentgate/website.yml

                The same as the pending step of every run (with its sweep first), without taking new files from \
                the inbox. Exit status: 0 nothing is left in quarantine; 1 something is still quarantined; 2 \
                configuration error; 3 a file could not be brought to an outcome.
                """)
        @Option(help: "The pipeline file.") var pipeline: String
        @Flag(help: "Print the summary as JSON.") var json = false

        func run() throws {
            do {
                let config = try PipelineConfig.load(path: pipeline)
                let media = try Workers.media(for: config)
                defer { media.shutdown() }
                let summary = try Runner(config: config, logger: Logs.pipeline, media: media).run(inbox: false)
                let still = try QuarantineState.list(config: config)
                if json {
                    Output.json(summary)
                } else {
                    print(
                        "\(summary.released) released, \(summary.duplicates) duplicate(s), \(summary.retracted) retracted; "
                            + "\(still.count) still quarantined (\(still.filter(\.pending).count) pending)")
                }
                if summary.left > 0 { throw ExitCode(3) }
                if !still.isEmpty || summary.exitCode == 1 { throw ExitCode(1) }
            } catch let error as PipelineError {
                Output.error("quarantine recheck: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }
}
