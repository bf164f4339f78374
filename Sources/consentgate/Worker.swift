import ArgumentParser
import Foundation
import MediaWorker
import Sandbox

/// `consentgate worker`: a sandboxed worker process, started by the pipeline's worker pool, never by a person.
/// It serves requests on descriptor 3; its stdin and stdout are /dev/null.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "A sandboxed worker process (started by consentgate itself).",
        shouldDisplay: false)

    @Option(help: .hidden) var limits: String

    func validate() throws {
        guard WorkerLimits(argument: limits) != nil else { throw ValidationError("unreadable --limits") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        #if DEBUG
            let testing = environment["CONSENTGATE_WORKER_TEST_HOOKS"] == "1"
        #else
            // A release build has no test hooks: no marker, no test operation, never a worker without its filter.
            let testing = false
        #endif
        // The operations on media bytes are registered here, one entry each.
        var handlers = MediaOperations.handlers
        #if DEBUG
            if testing {
                handlers.merge(WorkerTestHooks.handlers) { mine, _ in mine }
                // Set once, before the first request: files carrying a test marker make this worker misbehave.
                TestMarkers.enabled = true
            }
        #endif
        // The video and HEIF decoders' one-time set-up happens before the seccomp filter. The face detector is built
        // on a worker's first face request, inside the filter (from data inside libdlib: memory only, no file), not
        // here: building it costs about half a second of CPU, which every worker paid at start, even the many that
        // never count a face (strip, the writer, the verifier).
        FaceDetector.prepareDecoders()
        WorkerMain.run(
            handlers: handlers, limits: WorkerLimits(argument: limits)!,
            skipFilterForTesting: testing && environment["CONSENTGATE_WORKER_TEST_NO_SECCOMP"] == "1")
    }
}
