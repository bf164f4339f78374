import Dispatch
import Foundation
import Synchronization

/// The `notify:` command (SPEC §6): told of every event with one JSON document on its standard input: event,
/// pipeline, channel, asset id, published name, authorization ids, reason codes, time; never an original name.
///
/// It runs on its own queue, one event at a time, in a process group of its own: at the time limit the whole
/// group is killed (a `sleep` or a hung `curl` it started too), and its input is written without blocking, so a
/// command that does not read cannot hold the run either. A run spends at most `budget` seconds on notices; the
/// rest count as failed. A failed notice is recorded in the ledger (`notify_failed`) and sent again by later runs
/// until the command takes it (`notify_sent`); failures make the run's exit status at least 1. A failure never
/// changes an outcome.
final class Notifier: Sendable {
    let command: String
    let pipeline: String
    let channel: String
    let queue = DispatchQueue(label: "consentgate.notify")
    let group = DispatchGroup()
    let failures = Mutex(0)
    let spent = Mutex(0.0)
    /// Told of each delivery: the document, whether the command took it, and the ledger event it retries.
    let report: @Sendable (_ document: Data, _ delivered: Bool, _ retryOf: Int64?, _ why: String?) -> Void
    static let budget: TimeInterval = 60

    init(
        command: String, pipeline: String, channel: String,
        report: @escaping @Sendable (Data, Bool, Int64?, String?) -> Void
    ) {
        self.command = command
        self.pipeline = pipeline
        self.channel = channel
        self.report = report
    }

    /// Queues one event. `reasons` are codes, `records` authorization ids; nothing else is sent.
    func send(
        _ event: String, asset: String?, publishedName: String? = nil, records: [String] = [], reasons: [String] = []
    ) {
        var document: [String: Any] = [
            "event": event, "pipeline": pipeline, "channel": channel, "asset": asset ?? NSNull(),
            "published_name": publishedName ?? NSNull(), "authorizations": records, "reasons": reasons,
            "time": Ledger.timestamp(Date()),
        ]
        if event == "retracted" {
            document["action"] =
                "take down every post of this picture on this channel: consent for it is gone or in doubt"
        }
        resend(document, retryOf: nil)
    }

    /// Queues a document again (a notice an earlier run could not deliver).
    func resend(_ document: [String: Any], retryOf: Int64?) {
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]) else { return }
        queue.async(group: group) {
            let started = Date()
            let why: String?
            if self.spent.withLock({ $0 }) >= Notifier.budget {
                why = "not sent: this run's \(Int(Notifier.budget)) s for notices are spent"
            } else {
                why = self.deliver(data)
            }
            self.spent.withLock { $0 += Date().timeIntervalSince(started) }
            if why != nil { self.failures.withLock { $0 += 1 } }
            self.report(data, why == nil, retryOf, why)
        }
    }

    /// Runs the command for one document; nil on success, else why it failed.
    private func deliver(_ data: Data) -> String? {
        var input: [Int32] = [0, 0]
        guard pipe(&input) == 0 else { return "cannot make a pipe: \(String(cString: strerror(errno)))" }
        defer { if input[1] >= 0 { close(input[1]) } }
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_addclose(&actions, input[1])
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Its own process group, so that the whole group can be killed at the limit.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(command), nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawn(&pid, command, &actions, &attributes, argv, environ)
        close(input[0])
        guard spawned == 0 else { return "cannot start \(command): \(String(cString: strerror(spawned)))" }
        let deadline = Date().addingTimeInterval(PipelineConfig.notifyTimeout)
        // The document, without ever blocking: a command that does not read only costs the time limit.
        _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK)
        signal(SIGPIPE, SIG_IGN)
        let bytes = [UInt8](data)
        var written = 0
        while written < bytes.count && Date() < deadline {
            let count = bytes[written...].withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) }
            if count > 0 {
                written += count
            } else if count < 0 && (errno == EAGAIN || errno == EINTR) {
                var poller = pollfd(fd: input[1], events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, 50)
            } else {
                break  // it closed its input: it decides by itself whether that is a failure
            }
        }
        close(input[1])
        input[1] = -1
        var status: Int32 = 0
        while Date() < deadline {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { return Notifier.verdict(status) }
            if done < 0 && errno != EINTR { return "cannot wait for it: \(String(cString: strerror(errno)))" }
            usleep(20_000)
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return "took longer than \(Int(PipelineConfig.notifyTimeout)) s; it was stopped with everything it started"
    }

    /// How the command ended, from waitpid's status.
    static func verdict(_ status: Int32) -> String? {
        let signal = status & 0x7f
        if signal != 0 { return "killed by signal \(signal)" }
        let code = (status >> 8) & 0xff
        return code == 0 ? nil : "exited with status \(code)"
    }

    /// Waits for the queued notices; returns how many failed.
    func finish() -> Int {
        group.wait()
        return failures.withLock { $0 }
    }
}
