import Foundation

/// Why a worker process failed a request: the words a person reads in a quarantine reason
/// ("could not be read safely: the reader crashed (SIGSEGV)").
public enum WorkerFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// Died by a signal that no limit explains.
    case crashed(signal: Int32)
    /// Killed by the seccomp filter (SIGSYS): it tried to open a file, exec, fork, use the network...
    case forbiddenSystemCall
    /// Missed the wall-clock deadline and was killed.
    case timedOut(seconds: Double)
    /// Ran out of its address space (RLIMIT_AS), in MiB.
    case exceededMemory(limitMiB: UInt64)
    /// Used more CPU time than one request may (SIGXCPU).
    case exceededCPU(seconds: UInt64)
    /// Wrote beyond its file size limit (SIGXFSZ).
    case exceededFileSize
    /// Exited with a status instead of answering.
    case exited(status: Int32)
    /// Answered something that is not a reply of the protocol, or a reply over the size limit.
    case garbage(String)
    /// Could not be started, or did not finish its handshake.
    case couldNotStart(String)

    public var description: String {
        switch self {
        case .crashed(let signal) where signal == SIGKILL: "the reader was killed (SIGKILL)"
        case .crashed(let signal): "the reader crashed (\(signalName(signal)))"
        case .forbiddenSystemCall: "the reader made a forbidden system call (SIGSYS)"
        case .timedOut(let seconds): "the reader took longer than \(formatSeconds(seconds))"
        case .exceededMemory(let limit): "the reader exceeded its memory limit (\(limit) MiB)"
        case .exceededCPU(let seconds): "the reader exceeded its CPU time limit (\(seconds) s)"
        case .exceededFileSize: "the reader exceeded its file size limit (SIGXFSZ)"
        case .exited(let status): "the reader exited unexpectedly (status \(status))"
        case .garbage(let what): "the reader answered garbage (\(what))"
        case .couldNotStart(let why): "the reader could not be started (\(why))"
        }
    }
}

/// What `WorkerPool.perform` throws.
public enum WorkerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The request failed in a worker, and again in a fresh one: the second failure's reason.
    case failed(WorkerFailure)
    /// The operation's handler threw: its message. The worker is fine; the request was not retried.
    case operationFailed(String)
    /// The worker has no handler of that name.
    case unknownOperation(String)
    /// The pool was shut down.
    case shutDown

    public var description: String {
        switch self {
        case .failed(let failure): failure.description
        case .operationFailed(let message): message
        case .unknownOperation(let name): "the worker has no operation \(name)"
        case .shutDown: "the worker pool was shut down"
        }
    }
}

/// `SIGSEGV` for 11: the name a person can look up.
func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
        SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
        SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
        SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGSYS: "SIGSYS",
    ]
    return names[signal] ?? "signal \(signal)"
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
}
