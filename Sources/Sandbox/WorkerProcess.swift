internal import CSandboxShims
import Foundation

/// Identifies one worker process for the life of a pool: `serial` never repeats (a process id may).
public struct WorkerID: Hashable, Sendable, CustomStringConvertible {
    /// The pool's count of started workers when this one started: unique within the pool.
    public let serial: UInt64
    /// The worker's process id (for /proc and for logs).
    public let processID: Int32
    public var description: String { "worker \(serial) (pid \(processID))" }
}

/// The parent's handle on one worker process: its socket, its stderr and how to end it.
///
/// `@unchecked Sendable`: a WorkerProcess is used by one thread at a time. The pool hands it out under its lock
/// to exactly one caller and takes it back under the lock; only that caller touches `stderrText` and the
/// socket meanwhile, and the `let` properties never change.
final class WorkerProcess: @unchecked Sendable {
    let id: WorkerID
    let socket: Int32
    private let stderrPipe: Int32
    /// What the worker wrote to stderr during the current request (the Swift runtime's fatal-error message).
    private(set) var stderrText: [UInt8] = []
    private(set) var sandboxProblem: String?
    private var ended = false

    /// What went wrong on the parent's side of a request, before the process's end tells the rest.
    enum Trouble: Error {
        case deadline, closed
        case garbage(String)
    }

    enum Answer {
        case ok(Data)
        case operationFailed(String)
        case unknownOperation(String)
    }

    /// True when the worker holds any descriptor beyond its own four (stdin, stdout, stderr, the socket) after it
    /// answered: an honest worker closes what it was handed before it replies; one that keeps a descriptor (to
    /// write into a verified copy later, say) is treated as a failed worker and killed. With `mmap` limited to
    /// anonymous memory by the filter, a kept descriptor is the only way to touch a handed file afterwards.
    func holdsHandedDescriptors() -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(id.processID)/fd") else {
            return true
        }
        return names.contains { Int32($0).map { $0 > 3 } ?? true }
    }

    /// Spawns `executable arguments…` with a socketpair end as descriptor 3; does not wait for it.
    init(executable: String, arguments: [String], environment: [String], serial: UInt64) throws(WorkerFailure) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw .couldNotStart("socketpair: \(String(cString: strerror(errno)))")
        }
        var errorPipe: [Int32] = [-1, -1]
        // The worker's stderr never blocks it: when the parent has not drained it, the message is lost instead.
        let piped = cgsandbox_pipe(&errorPipe)
        guard piped == 0 else {
            close(pair[0])
            close(pair[1])
            throw .couldNotStart("pipe: \(errorText(piped))")
        }
        _ = fcntl(pair[0], F_SETFL, O_NONBLOCK)
        var pid: pid_t = 0
        let argv = [executable] + arguments
        let spawned = withCStrings(argv) { argv in
            withCStrings(environment) { envp in
                cgsandbox_spawn(executable, argv, envp, pair[1], errorPipe[1], &pid)
            }
        }
        close(pair[1])
        close(errorPipe[1])
        guard spawned == 0 else {
            close(pair[0])
            close(errorPipe[0])
            throw .couldNotStart("\(executable): \(errorText(spawned))")
        }
        id = WorkerID(serial: serial, processID: pid)
        socket = pair[0]
        stderrPipe = errorPipe[0]
    }

    deinit {
        if !ended { stop() }
    }

    /// Ends a worker that has done nothing wrong (shutdown, replacement): it holds no state worth waiting for.
    func stop() {
        precondition(!ended, "a worker is ended once")
        ended = true
        kill(id.processID, SIGKILL)
        var status: Int32 = 0
        while waitpid(id.processID, &status, 0) < 0 && errno == EINTR {}
        close(socket)
        close(stderrPipe)
    }

    /// Waits for the worker's hello; on failure the process is ended and the reason thrown.
    func awaitHello(until deadline: ContinuousClock.Instant) throws(WorkerFailure) {
        do throws(Trouble) {
            let body = try receiveFrame(until: deadline, limit: 4096)
            guard body.first == Wire.ReplyKind.hello.rawValue else { throw Trouble.garbage("no handshake") }
            let text = String(decoding: body.dropFirst(), as: UTF8.self)
            if text.hasPrefix("sandboxed=0;problem=") {
                sandboxProblem = String(text.dropFirst("sandboxed=0;problem=".count))
            } else if text != "sandboxed=1" {
                throw Trouble.garbage("a malformed handshake")
            }
        } catch {
            let failure = end(after: error, limits: WorkerLimits(), deadlineSeconds: 0)
            let message = String(decoding: stderrText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .couldNotStart(message.isEmpty ? failure.description : "\(failure): \(message)")
        }
    }

    /// True when the idle worker shows no sign of death or chatter (nothing to read, no hang-up).
    var looksHealthy: Bool {
        var entry = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 0
    }

    /// Sends one request and reads its answer; a `Trouble` means the caller must `end` this worker.
    func perform(
        operation: String, payload: Data, descriptors: [Int32], until deadline: ContinuousClock.Instant,
        cpuSeconds: UInt64, replyLimit: Int
    ) throws(Trouble) -> Answer {
        // The CPU budget is per request: the soft RLIMIT_CPU moves to what the worker has used so far plus it.
        let used = cgsandbox_cpu_seconds(id.processID)
        guard used >= 0, cgsandbox_set_cpu_limit(id.processID, UInt64(used.rounded(.up)) + cpuSeconds) == 0 else {
            throw .closed
        }
        drainStderr()
        stderrText = []
        try sendFrame(Wire.request(operation: operation, payload: payload), descriptors, until: deadline)
        let body = try receiveFrame(until: deadline, limit: replyLimit)
        guard let kind = body.first.flatMap(Wire.ReplyKind.init(rawValue:)) else {
            throw .garbage("an unknown reply")
        }
        let data = Data(body.dropFirst())
        switch kind {
        case .ok: return .ok(data)
        case .operationFailed: return .operationFailed(String(decoding: data, as: UTF8.self))
        case .unknownOperation: return .unknownOperation(String(decoding: data, as: UTF8.self))
        case .hello: throw .garbage("a second handshake")
        }
    }

    /// Kills (when still alive) and reaps the worker, and says why it failed.
    @discardableResult
    func end(after trouble: Trouble, limits: WorkerLimits, deadlineSeconds: Double) -> WorkerFailure {
        precondition(!ended, "a worker is ended once")
        ended = true
        var status: Int32 = 0
        var reaped = false
        if case .closed = trouble {
            // The socket closed: the process is on its way out. Its own exit status says why, if it comes soon.
            for _ in 0..<200 {
                if waitpid(id.processID, &status, WNOHANG) == id.processID {
                    reaped = true
                    break
                }
                usleep(1000)
            }
        }
        if !reaped {
            kill(id.processID, SIGKILL)
            while waitpid(id.processID, &status, 0) < 0 && errno == EINTR {}
        }
        drainStderr()
        close(socket)
        close(stderrPipe)
        return classify(status: status, trouble: trouble, limits: limits, deadlineSeconds: deadlineSeconds)
    }

    private func classify(status: Int32, trouble: Trouble, limits: WorkerLimits, deadlineSeconds: Double)
        -> WorkerFailure
    {
        let memoryMiB = limits.memoryBytes >> 20
        let signal = status & 0x7F
        let killed = signal != 0 && signal != 0x7F
        let message = String(decoding: stderrText, as: UTF8.self)
        let outOfMemory = [
            "failed to allocate", "Could not allocate memory", "out of memory", "Cannot allocate memory", "bad_alloc",
        ]
        .contains { message.contains($0) }
        if case .deadline = trouble, !killed || signal == SIGKILL { return .timedOut(seconds: deadlineSeconds) }
        if killed {
            switch signal {
            case SIGSYS: return .forbiddenSystemCall
            case SIGXCPU: return .exceededCPU(seconds: limits.cpuSecondsPerRequest)
            case SIGXFSZ: return .exceededFileSize
            default: break
            }
            if outOfMemory { return .exceededMemory(limitMiB: memoryMiB) }
            if case .garbage(let what) = trouble, signal == SIGKILL { return .garbage(what) }
            return .crashed(signal: signal)
        }
        if case .garbage(let what) = trouble { return .garbage(what) }
        if outOfMemory { return .exceededMemory(limitMiB: memoryMiB) }
        return .exited(status: (status >> 8) & 0xFF)
    }

    /// Reads what the worker wrote to stderr since the last call, keeping the first 16 KiB of it: the Swift
    /// runtime's "Fatal error: …" line comes first, its stack trace after.
    private func drainStderr() {
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(stderrPipe, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            stderrText += chunk.prefix(min(count, max(0, (16 << 10) - stderrText.count)))
        }
    }

    private func sendFrame(_ bytes: [UInt8], _ descriptors: [Int32], until deadline: ContinuousClock.Instant)
        throws(Trouble)
    {
        var offset = 0
        var pending = descriptors
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                pending.withUnsafeBufferPointer { fds in
                    cgsandbox_send(
                        socket, raw.baseAddress! + offset, raw.count - offset, fds.baseAddress, Int32(fds.count), 0)
                }
            }
            if sent > 0 {
                offset += sent
                pending = []
            } else if sent == -Int(EAGAIN) {
                try wait(for: Int16(POLLOUT), until: deadline)
            } else {
                throw .closed
            }
        }
    }

    private func receiveFrame(until deadline: ContinuousClock.Instant, limit: Int) throws(Trouble) -> [UInt8] {
        var frame: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while frame.count < 4 || frame.count < 4 + Wire.length(frame[...]) {
            if frame.count >= 4 && Wire.length(frame[...]) > limit {
                throw .garbage("a reply of \(Wire.length(frame[...])) bytes, over the limit of \(limit)")
            }
            // The whole frame in one read where it fits; never more than the frame (it would be garbage).
            let wanted = frame.count < 4 ? 4 - frame.count + 4092 : 4 + Wire.length(frame[...]) - frame.count
            // read(), not recvmsg(): descriptors a hostile worker might send are dropped by the kernel.
            let count = chunk.withUnsafeMutableBytes { read(socket, $0.baseAddress, min(wanted, $0.count)) }
            if count > 0 {
                frame += chunk.prefix(count)
            } else if count < 0 && (errno == EAGAIN || errno == EINTR) {
                try wait(for: Int16(POLLIN), until: deadline)
            } else {
                throw .closed
            }
        }
        guard frame.count == 4 + Wire.length(frame[...]) else { throw .garbage("bytes after a reply") }
        return Array(frame.dropFirst(4))
    }

    private func wait(for events: Int16, until deadline: ContinuousClock.Instant) throws(Trouble) {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw .deadline }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var entry = pollfd(fd: socket, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .closed }
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) } + [nil]
    defer { for copy in copies { free(copy) } }
    return copies.withUnsafeBufferPointer { body($0.baseAddress!) }
}
