import ArgumentParser
import Foundation
import MediaWorker
import Pipeline
import Sandbox

/// The sandboxed workers a command reads media through: this very executable, started as `consentgate worker`,
/// behind a seccomp filter with memory and CPU limits and a deadline per file (SPEC §2).
enum Workers {
    static func media(memoryMB: Int, seconds: Double, workers: Int? = nil) throws(MediaServiceError) -> MediaService {
        var environment: [String: String] = [:]
        #if DEBUG
            // Tests ask workers to misbehave through this switch, in debug builds only (a release build has no test
            // hooks at all); it is passed on explicitly, never inherited, and the summary says it is on.
            if let hooks = ProcessInfo.processInfo.environment["CONSENTGATE_WORKER_TEST_HOOKS"] {
                environment["CONSENTGATE_WORKER_TEST_HOOKS"] = hooks
            }
        #endif
        let cpu = UInt64(max(1, seconds.rounded(.up)))
        return try MediaService.sandboxed(
            executable: executable, workers: workers ?? max(2, ProcessInfo.processInfo.activeProcessorCount),
            limits: WorkerLimits(memoryBytes: UInt64(memoryMB) << 20, cpuSecondsPerRequest: cpu),
            deadline: .milliseconds(Int64(seconds * 1000)), environment: environment)
    }

    /// The workers for a pipeline, with its `worker_memory_mb` and `worker_seconds`; exit 3 when they cannot start.
    static func media(for config: PipelineConfig) throws(PipelineError) -> MediaService {
        do { return try media(memoryMB: config.workerMemoryMB, seconds: config.workerSeconds) } catch {
            throw PipelineError("\(error)", exitCode: 3, stage: .inspect)
        }
    }

    /// This program, as the kernel knows it (not argv[0], which a caller chooses).
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// `--worker-memory-mb` and `--worker-seconds` for the commands that read media.
struct WorkerOptions: ParsableArguments {
    @Option(help: "Memory limit of each sandboxed reader, in MiB (RLIMIT_AS).")
    var workerMemoryMb = 4096

    @Option(help: "Longest a sandboxed reader may spend on one file, in seconds; a file that takes longer is tried once more, then refused.")
    var workerSeconds: Double = 120

    func validate() throws {
        guard (256...65_536).contains(workerMemoryMb) else {
            throw ValidationError("--worker-memory-mb must be 256 to 65536")
        }
        guard workerSeconds >= 1, workerSeconds.isFinite else { throw ValidationError("--worker-seconds must be at least 1") }
    }

    /// The workers, or exit 3 with the reason (nothing is read unsandboxed by surprise).
    func media(command: String, workers: Int? = nil) throws -> MediaService {
        do { return try Workers.media(memoryMB: workerMemoryMb, seconds: workerSeconds, workers: workers) } catch {
            Output.error("\(command): \(error)")
            throw ExitCode(3)
        }
    }
}
