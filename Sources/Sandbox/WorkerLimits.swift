/// The limits every worker process runs under: the kernel enforces them (setrlimit, prlimit), so that a parser
/// gone wrong on hostile bytes stops at them instead of taking the machine's memory, CPU or disk.
public struct WorkerLimits: Sendable, Equatable {
    /// The worker's whole address space (RLIMIT_AS), Swift runtime included; allocation beyond it fails.
    public var memoryBytes: UInt64
    /// CPU seconds one request may use (RLIMIT_CPU, moved forward by the parent before each request); beyond
    /// it the kernel sends SIGXCPU. The wall-clock deadline of the pool is the other bound.
    public var cpuSecondsPerRequest: UInt64
    /// Descriptors the worker may hold at once (RLIMIT_NOFILE): its socket and a request's files.
    public var openFiles: UInt64
    /// The largest file the worker may write (RLIMIT_FSIZE): an output cannot grow without bound.
    public var fileSizeBytes: UInt64

    /// 2 GiB of address space, 120 CPU seconds per request, 64 descriptors, 64 GiB per written file.
    public init(
        memoryBytes: UInt64 = 2 << 30, cpuSecondsPerRequest: UInt64 = 120, openFiles: UInt64 = 64,
        fileSizeBytes: UInt64 = 64 << 30
    ) {
        self.memoryBytes = memoryBytes
        self.cpuSecondsPerRequest = cpuSecondsPerRequest
        self.openFiles = openFiles
        self.fileSizeBytes = fileSizeBytes
    }

    /// The limits as one argument of the hidden `worker` subcommand: `as=…,cpu=…,nofile=…,fsize=…`.
    public var argument: String {
        "as=\(memoryBytes),cpu=\(cpuSecondsPerRequest),nofile=\(openFiles),fsize=\(fileSizeBytes)"
    }

    /// Parses `argument`; nil for anything else (a worker started with limits it cannot read must not start).
    public init?(argument: String) {
        var values: [String: UInt64] = [:]
        for pair in argument.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = UInt64(parts[1]), value > 0 else { return nil }
            values[String(parts[0])] = value
        }
        guard let memory = values["as"], let cpu = values["cpu"], let files = values["nofile"],
            let size = values["fsize"], values.count == 4
        else { return nil }
        self.init(memoryBytes: memory, cpuSecondsPerRequest: cpu, openFiles: files, fileSizeBytes: size)
    }
}
