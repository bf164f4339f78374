import ArgumentParser
import ByteKit
import Foundation
import MediaFormats

/// The `consentgate` command. Usage errors exit with 2, as SPEC §6 requires (not ArgumentParser's 64).
@main
struct ConsentGate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consentgate",
        abstract:
            "Gate patient photos and videos: strip identifying metadata losslessly, publish only with signed consent.",
        discussion: """
            Exit status: 0 success; 1 something refused or quarantined (a person should look); 2 usage or \
            configuration error. Every subcommand takes --help.
            """,
        version: ConsentGateVersion.current,
        subcommands: [
            Run.self, Watch.self, Check.self, Inspect.self, Strip.self, Keys.self, Authorize.self, Revoke.self,
            Records.self,
            Audit.self, QuarantineCommand.self, ArchiveCommand.self, Review.self, ReviewRecord.self,
            Worker.self,
            LedgerCommand.self, Incident.self, Office.self,
        ]
    )

    static func main() {
        FileIO.keepFreedBuffersForReuse()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
