import ArgumentParser
import ByteKit
import Foundation
import MediaFormats
import MediaWorker
import Pipeline

struct Review: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the privacy office's review page: one card per quarantined file (mode 0600).",
        discussion: """
            consentgate review --pipeline /etc/consentgate/website.yml --out review.html

            Each card has a preview made fresh from the picture's pixels (no metadata; JPEG and PNG, a label for \
            other formats), the reasons in words and what to do, where and when the file was dropped, its content \
            fingerprint and a ready `consentgate authorize ... --presented-sha256` line. The page shows original file \
            names: it is written with mode 0600.

            consentgate review --pipeline /etc/consentgate/website.yml --export /srv/office/export

            --export writes what the privacy office's app (consentgate office) reads: cards.json (one card per \
            quarantined file: reasons, what cures it, who can act and the exact command, fingerprints, who has \
            consented and how many are missing) and previews/ASSET.jpg (metadata-free), files 0640 in folders 0750, \
            never an original's bytes. The pipeline's office_export: key refreshes it after every run. Exit status: \
            0 written; 2 configuration error or cannot write.
            """)

    @Option(help: "The pipeline file.") var pipeline: String
    @Option(help: "Where to write the page (HTML): a new file, or - for standard output.") var out: String?
    @Option(help: "A folder for the office app's data (cards.json, previews/): new, empty, or an earlier export.")
    var export: String?
    @Flag(help: "Replace the file at --out if there is one (a regular file only).") var overwrite = false

    func run() throws {
        do {
            let config = try PipelineConfig.load(path: pipeline)
            guard out != nil || export != nil else { throw PipelineError("give --out FILE.html or --export DIR") }
            if let export {
                let media = try Workers.media(for: config)
                defer { media.shutdown() }
                let done = try OfficeExport.write(config: config, to: export, media: media)
                print("exported \(export): \(done.cards) card(s), \(done.pending) waiting for consent, \(done.previews) preview(s)")
            }
            guard let out else { return }
            // Refused before any work: the page names originals and shows unconsented pictures.
            if let why = OutputFile.problem(out, overwrite: overwrite, pipelines: [config]) {
                throw PipelineError("cannot write \(out): \(why)")
            }
            // Previews are decoded by sandboxed workers: a quarantined original may be hostile.
            let media = try Workers.media(for: config)
            defer { media.shutdown() }
            let page = try ReviewPage.make(config: config, media: media)
            try OutputFile.write(Array(page.html.utf8), to: out, mode: 0o600, overwrite: overwrite, pipelines: [config])
            let line = "written \(out == "-" ? "to standard output" : out): \(page.cards) quarantined file(s), "
                + "\(page.pending) waiting for consent"
            if out == "-" { Output.error(line) } else { print(line) }
        } catch let error as PipelineError {
            Output.error("review: \(error)")
            throw ExitCode(error.exitCode)
        }
    }
}
