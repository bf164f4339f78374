import ArgumentParser
import ConsentRecords
import Foundation
import OfficeApp
import Pipeline

struct Office: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The privacy office's app: record, revoke and review consent in a browser (loopback only).",
        discussion: """
            consentgate office --pipeline /etc/consentgate/website.yml --key /secure/keys/office-2026.key

            Serves the pending pictures as cards (from the gate's export: the pipeline's office_export:, or \
            --export DIR), a form per card that records an authorization with its signed form and shows the record \
            before signing, revocation with its letter, who has consented to a group picture and who is missing, \
            the records by id or subject reference, and what is live under which record. It writes the same \
            signed records as authorize and revoke, with the office key, and keeps each document in the evidence \
            folder by SHA-256. It listens on 127.0.0.1 only and prints the address to open, with a random token; \
            every request without it, naming another host, or posting a form without its CSRF token is refused. \
            Exit status: 0 stopped (SIGTERM, SIGINT); 2 configuration error.
            """)

    @Option(help: "The pipeline file: its office_export:, authorizations, trust, evidence: and office_defaults:.")
    var pipeline: String?
    @Option(help: "The gate's export folder (review --export), instead of the pipeline's office_export:.")
    var export: String?
    @Option(help: "The authorizations folder (default: the pipeline's).") var authorizations: String?
    @Option(help: "The trust file, to check records (default: the pipeline's).") var trust: String?
    @Option(help: "The office's signing key (NAME.key, mode 0600); held in memory, never served.") var key: String
    @Option(help: "The evidence folder for signed forms and letters (default: the pipeline's evidence:).")
    var evidenceFolder: String?
    @Option(help: "The office's defaults file (default: the pipeline's office_defaults:).") var defaults: String?
    @Option(help: "The port on 127.0.0.1 (0: any free port).") var port: Int = 0

    func run() throws {
        let settings: OfficeSettings
        do {
            let config = try pipeline.map { path throws(PipelineError) in try PipelineConfig.load(path: path) }
            guard let exportFolder = export ?? config?.office.export else {
                throw ValidationError("give --export DIR, or --pipeline FILE whose office_export: names the export")
            }
            guard let folder = authorizations ?? config?.authorizations else {
                throw ValidationError("give --authorizations DIR, or --pipeline FILE")
            }
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
            let secret = try KeyFiles.loadSecretKey(path: key)
            let officeDefaults = try (defaults ?? config?.office.defaults).map {
                file throws(RecordError) in try OfficeDefaults.load(path: file)
            }
            settings = OfficeSettings(
                export: exportFolder, authorizations: folder, trust: trust ?? config?.trust,
                evidence: evidenceFolder ?? config?.office.evidence, defaults: officeDefaults ?? OfficeDefaults(),
                key: secret, port: port, timeZone: config?.timeZone ?? TimeZone(identifier: "UTC")!)
        } catch let error as ValidationError {
            throw error
        } catch {
            Output.error("office: \(Escape.display("\(error)"))")
            throw ExitCode(2)
        }
        let outcome = OfficeOutcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await OfficeServer.run(settings) { address in
                    print("The privacy office's app is at \(address)")
                    print("Open it in a browser on this machine; stop it with Ctrl-C.")
                    fflush(nil)
                }
            } catch {
                outcome.fail("office: \(error)")
            }
            done.signal()
        }
        done.wait()
        if let failure = outcome.failure {
            Output.error(failure)
            throw ExitCode(2)
        }
    }
}

/// How the server ended, handed from its task to the command.
final class OfficeOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var message: String?
    func fail(_ text: String) { lock.withLock { message = text } }
    var failure: String? { lock.withLock { message } }
}
