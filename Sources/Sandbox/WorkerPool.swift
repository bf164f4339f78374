import Foundation

/// One request to a worker: an operation, a small payload and the open files it works on.
public struct WorkerRequest: Sendable {
    /// The handler's name in the worker (`WorkerMain.run(handlers:)`).
    public var operation: String
    /// The operation's input, JSON or bytes; small (the media itself travels as descriptors).
    public var payload: Data
    /// Open descriptors for the worker (a media file to read, an output to write). Passed as SCM_RIGHTS,
    /// borrowed: the caller still owns and closes them.
    public var descriptors: [Int32]
    /// The wall-clock limit for this request; the pool's default when nil.
    public var deadline: Duration?
    /// A worker that must not run this request (verification of an output never runs where it was written).
    public var avoiding: WorkerID?

    /// A request for `operation`; by default with no payload, no descriptors, the pool's deadline, any worker.
    public init(
        _ operation: String, payload: Data = Data(), descriptors: [Int32] = [], deadline: Duration? = nil,
        avoiding: WorkerID? = nil
    ) {
        self.operation = operation
        self.payload = payload
        self.descriptors = descriptors
        self.deadline = deadline
        self.avoiding = avoiding
    }
}

/// A worker's answer.
public struct WorkerReply: Sendable {
    /// What the handler returned.
    public var payload: Data
    /// The worker that answered (to be avoided by a verification of what it wrote).
    public var worker: WorkerID
    /// Why the first worker failed, when the answer came from the retry in a fresh worker.
    public var retriedAfter: WorkerFailure?
}

/// Long-lived sandboxed worker processes (`consentgate worker`), about one per core, each answering many
/// requests. A worker that crashes, overruns its deadline or limits, or answers garbage is killed and replaced,
/// and its request tried once more in a fresh worker; a second failure is the request's `WorkerError.failed`.
/// Safe to call from many threads at once: each caller gets a worker of its own or waits for one.
///
/// `@unchecked Sendable`: the mutable `state` is read and written only while holding `condition`, and the
/// configuration is immutable.
public final class WorkerPool: @unchecked Sendable {
    /// How the pool starts and bounds its workers.
    public struct Configuration: Sendable {
        /// The `consentgate` executable (the pipeline passes its own path).
        public var executable: String
        /// The arguments that make it a worker; the pool appends `--limits …`.
        public var arguments: [String] = ["worker"]
        /// How many workers run at once.
        public var workerCount: Int
        /// The kernel-enforced limits of each worker.
        public var limits: WorkerLimits
        /// The default wall-clock limit per request.
        public var deadline: Duration
        /// How long a new worker may take to start and report its sandbox.
        public var startupDeadline: Duration = .seconds(30)
        /// The largest reply accepted; a larger one means the worker failed.
        public var replyLimit: Int = 16 << 20
        /// The workers' whole environment (nothing of the parent's is inherited), e.g. the test-hook switch.
        public var environment: [String: String] = [:]

        /// One worker per core, the default limits, 120 s per request.
        public init(
            executable: String, workerCount: Int = ProcessInfo.processInfo.activeProcessorCount,
            limits: WorkerLimits = WorkerLimits(), deadline: Duration = .seconds(120)
        ) {
            self.executable = executable
            self.workerCount = max(1, workerCount)
            self.limits = limits
            self.deadline = deadline
        }
    }

    private struct State {
        var idle: [WorkerProcess] = []
        /// Workers that exist or are being started: idle, busy, or being replaced.
        var slots = 0
        var running: [UInt64: Int32] = [:]
        var nextSerial: UInt64 = 1
        var started = 0
        var shutDown = false
        var sandboxProblem: String?
    }

    /// What the pool was started with.
    public let configuration: Configuration
    private let condition = NSCondition()
    private var state = State()

    /// Starts every worker and waits for each to report its sandbox. A worker that dies before its handshake (killed
    /// from outside, say) is replaced once; throws when its replacement cannot start either.
    public init(configuration: Configuration) throws(WorkerError) {
        self.configuration = configuration
        var started: [WorkerProcess] = []
        var spawned: [WorkerProcess] = []
        do throws(WorkerFailure) {
            // All spawned first, then the handshakes: the workers start up in parallel.
            spawned = try (0..<configuration.workerCount).map { _ throws(WorkerFailure) in try spawn() }
            for worker in spawned {
                var ready = worker
                do throws(WorkerFailure) {
                    try worker.awaitHello(until: .now + configuration.startupDeadline)
                } catch {
                    // awaitHello has ended it already.
                    ready = try spawn()
                    spawned.append(ready)
                    try ready.awaitHello(until: .now + configuration.startupDeadline)
                }
                started.append(ready)
                register(ready)
            }
        } catch {
            // The ones not started end with their deinit (or have ended already).
            for worker in started { worker.stop() }
            throw .failed(error)
        }
        condition.withLock {
            state.idle = started
            state.slots = started.count
        }
    }

    deinit { shutdown() }

    /// False when the workers run without the seccomp filter (the kernel has none): say so once per run.
    public var sandboxed: Bool { sandboxProblem == nil }

    /// Why the workers are not sandboxed, when they are not.
    public var sandboxProblem: String? { condition.withLock { state.sandboxProblem } }

    /// The process ids of the live workers, oldest first.
    public var workerProcessIDs: [Int32] {
        condition.withLock { state.running.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// How many workers this pool has started, replacements included: for a run's summary (and tests).
    public var workersStarted: Int { condition.withLock { state.started } }

    /// Runs `request` in a worker; retried once in a fresh worker when the first one fails.
    public func perform(_ request: WorkerRequest) throws(WorkerError) -> WorkerReply {
        precondition(request.descriptors.count <= Wire.descriptorLimit, "at most \(Wire.descriptorLimit) descriptors")
        let deadline = request.deadline ?? configuration.deadline
        var worker = try acquire(avoiding: request.avoiding)
        var firstFailure: WorkerFailure?
        while true {
            let answer: Result<WorkerProcess.Answer, WorkerProcess.Trouble>
            do throws(WorkerProcess.Trouble) {
                let reply = try worker.perform(
                    operation: request.operation, payload: request.payload, descriptors: request.descriptors,
                    until: .now + deadline, cpuSeconds: configuration.limits.cpuSecondsPerRequest,
                    replyLimit: configuration.replyLimit)
                if !request.descriptors.isEmpty && worker.holdsHandedDescriptors() {
                    throw WorkerProcess.Trouble.garbage("it kept a descriptor it was handed")
                }
                answer = .success(reply)
            } catch {
                answer = .failure(error)
            }
            switch answer {
            case .success(let answer):
                release(worker)
                switch answer {
                case .ok(let data): return WorkerReply(payload: data, worker: worker.id, retriedAfter: firstFailure)
                case .operationFailed(let message): throw .operationFailed(message)
                case .unknownOperation(let name): throw .unknownOperation(name)
                }
            case .failure(let trouble):
                let failure = worker.end(
                    after: trouble, limits: configuration.limits, deadlineSeconds: seconds(deadline))
                forget(worker)
                guard firstFailure == nil else {
                    giveUpSlot()
                    throw .failed(failure)
                }
                firstFailure = failure
                worker = try startInSlot()
            }
        }
    }

    /// `perform` with a JSON-encoded payload and a JSON-decoded reply.
    public func perform<Reply: Decodable>(
        _ operation: String, json payload: some Encodable, descriptors: [Int32] = [], deadline: Duration? = nil,
        avoiding: WorkerID? = nil, replying: Reply.Type = Reply.self
    ) throws -> (reply: Reply, worker: WorkerID) {
        let request = WorkerRequest(
            operation, payload: try JSONEncoder().encode(payload), descriptors: descriptors, deadline: deadline,
            avoiding: avoiding)
        let answer = try perform(request)
        do {
            return (try JSONDecoder().decode(Reply.self, from: answer.payload), answer.worker)
        } catch {
            throw WorkerError.failed(.garbage("a reply that is not the expected JSON"))
        }
    }

    /// Ends every worker; requests after it throw `WorkerError.shutDown`. Busy workers end when released.
    public func shutdown() {
        let idle = condition.withLock {
            state.shutDown = true
            defer { state.idle = [] }
            condition.broadcast()
            return state.idle
        }
        for worker in idle {
            worker.stop()
            forget(worker)
        }
    }

    // MARK: - Workers in and out

    private func acquire(avoiding avoided: WorkerID?) throws(WorkerError) -> WorkerProcess {
        condition.lock()
        while true {
            if state.shutDown {
                condition.unlock()
                throw .shutDown
            }
            if let index = state.idle.firstIndex(where: { $0.id != avoided }) {
                let worker = state.idle.remove(at: index)
                condition.unlock()
                if worker.looksHealthy { return worker }
                // Killed or chattering while idle: replaced without costing the request its retry.
                worker.end(after: .closed, limits: configuration.limits, deadlineSeconds: 0)
                forget(worker)
                return try startInSlot()
            }
            if state.slots < configuration.workerCount {
                state.slots += 1
                condition.unlock()
                return try startInSlot()
            }
            if configuration.workerCount == 1, let index = state.idle.firstIndex(where: { $0.id == avoided }) {
                // A pool of one avoids its only worker by replacing it.
                let worker = state.idle.remove(at: index)
                condition.unlock()
                worker.stop()
                forget(worker)
                return try startInSlot()
            }
            condition.wait()
        }
    }

    /// A fresh worker in a slot the caller holds; the slot is given up when it cannot start.
    private func startInSlot() throws(WorkerError) -> WorkerProcess {
        do throws(WorkerFailure) {
            let worker = try spawn()
            try worker.awaitHello(until: .now + configuration.startupDeadline)
            register(worker)
            return worker
        } catch {
            giveUpSlot()
            throw .failed(error)
        }
    }

    private func spawn() throws(WorkerFailure) -> WorkerProcess {
        let serial = condition.withLock {
            defer { state.nextSerial += 1 }
            return state.nextSerial
        }
        var environment = configuration.environment
        // The Swift runtime's crash backtracer would spawn a helper process, which the filter forbids.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        return try WorkerProcess(
            executable: configuration.executable,
            arguments: configuration.arguments + ["--limits", configuration.limits.argument],
            environment: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }, serial: serial)
    }

    private func register(_ worker: WorkerProcess) {
        condition.withLock {
            state.running[worker.id.serial] = worker.id.processID
            state.started += 1
            if state.sandboxProblem == nil, let problem = worker.sandboxProblem { state.sandboxProblem = problem }
        }
    }

    private func release(_ worker: WorkerProcess) {
        let keep = condition.withLock {
            guard !state.shutDown else { return false }
            state.idle.append(worker)
            // Every waiter looks: the one woken might be avoiding exactly this worker.
            condition.broadcast()
            return true
        }
        if !keep {
            worker.stop()
            forget(worker)
        }
    }

    private func forget(_ worker: WorkerProcess) {
        condition.withLock { _ = state.running.removeValue(forKey: worker.id.serial) }
    }

    private func giveUpSlot() {
        condition.withLock {
            state.slots -= 1
            condition.broadcast()
        }
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
