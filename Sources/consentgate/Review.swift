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
            fingerprint and a ready `consentgate authorize ... --content-sha256` line. The page shows original file \
            names: it is written with mode 0600. Exit status: 0 written; 2 configuration error or cannot write.
            """)

    @Option(help: "The pipeline file.") var pipeline: String
    @Option(help: "Where to write the page (HTML).") var out: String

    func run() throws {
        do {
            let config = try PipelineConfig.load(path: pipeline)
            // Previews are decoded by sandboxed workers: a quarantined original may be hostile.
            let media = try Workers.media(for: config)
            defer { media.shutdown() }
            let page = try ReviewPage.make(config: config, media: media)
            do { try FileIO.writePending(Array(page.html.utf8), finalPath: out, mode: 0o600).commit() } catch {
                throw PipelineError("cannot write \(out): \(error)")
            }
            print("written \(out): \(page.cards) quarantined file(s), \(page.pending) waiting for consent")
        } catch let error as PipelineError {
            Output.error("review: \(error)")
            throw ExitCode(error.exitCode)
        }
    }
}
