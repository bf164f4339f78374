import ArgumentParser
import Foundation
import Pipeline

/// `quarantine purge` and `archive purge`: retention of the originals ConsentGate keeps.
struct PurgeOptions: ParsableArguments {
    @Option(help: "The pipeline file.") var pipeline: String
    @Option(help: "Remove originals kept longer than this many days.") var olderThan: Double
    @Flag(help: "List what would be removed, remove nothing.") var dryRun = false
    @Flag(help: "Print the outcome as JSON.") var json = false

    func run(_ place: Purge.Place, command: String) throws {
        do throws(PipelineError) {
            let config = try PipelineConfig.load(path: pipeline)
            let outcome = try Purge.run(config, place: place, olderThanDays: olderThan, dryRun: dryRun)
            if json {
                Output.json(outcome)
                return
            }
            print(
                "\(config.name): \(outcome.purged.count) original(s) \(dryRun ? "would be" : "") removed from the "
                    + "\(place.rawValue) (older than \(Int(olderThan)) days), \(outcome.kept.count) kept")
            for asset in outcome.purged { print("  \(dryRun ? "would remove" : "removed") \(asset)") }
            for (asset, why) in outcome.kept.sorted(by: { $0.key < $1.key }) { print("  kept \(asset): \(why)") }
        } catch {
            Output.error("\(command): \(error)")
            throw ExitCode(error.exitCode)
        }
    }
}

extension QuarantineCommand {
    struct PurgeOld: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "purge",
            abstract: "Remove quarantined originals older than DAYS (never a pending one); each removal is in the ledger.",
            discussion: """
                consentgate quarantine purge --pipeline /etc/consentgate/website.yml --older-than 365

                A pending file (a new record may still release it) is kept, and so is one a run has in hand. Each \
                removal is a `purged` event in the ledger first. Exit status: 0; 2 usage or configuration error; 3 \
                a file could not be removed.
                """)
        @OptionGroup var options: PurgeOptions
        func run() throws { try options.run(.quarantine, command: "quarantine purge") }
    }
}

struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Retention of the archive of published originals.",
        subcommands: [Purge.self])

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove archived originals older than DAYS whose publication is no longer live.",
            discussion: """
                consentgate archive purge --pipeline /etc/consentgate/website.yml --older-than 2555

                The original of a picture still published is kept (it is the evidence of what was published), \
                whatever its age. Each removal is a `purged` event in the ledger first. Exit status: 0; 2 usage or \
                configuration error; 3 a file could not be removed.
                """)
        @OptionGroup var options: PurgeOptions
        func run() throws { try options.run(.archive, command: "archive purge") }
    }
}
