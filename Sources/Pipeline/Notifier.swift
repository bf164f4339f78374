import Dispatch
import Foundation
import Synchronization

/// The `notify:` command (SPEC §6): told of every event with one JSON document on its standard input: event,
/// pipeline, channel, asset id, published name, authorization ids, reason codes, time; never an original name.
/// It runs on its own queue with a time limit, one event at a time; a failure is counted and logged, never
/// changes an outcome and never blocks the run beyond the limit.
final class Notifier: Sendable {
    let command: String
    let pipeline: String
    let channel: String
    let queue = DispatchQueue(label: "consentgate.notify")
    let group = DispatchGroup()
    let failures = Mutex(0)
    let log: (@Sendable (String) -> Void)?

    init(command: String, pipeline: String, channel: String, log: (@Sendable (String) -> Void)?) {
        self.command = command
        self.pipeline = pipeline
        self.channel = channel
        self.log = log
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
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]) else { return }
        queue.async(group: group) {
            if let why = self.deliver(data) {
                self.failures.withLock { $0 += 1 }
                self.log?("notify: \(event) \(asset ?? ""): \(why)")
            }
        }
    }

    /// Runs the command for one document; nil on success, else why it failed.
    private func deliver(_ data: Data) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "cannot start \(command): \(error.localizedDescription)" }
        // A command that does not read its input must not block us: write, then close, ignoring a broken pipe.
        signal(SIGPIPE, SIG_IGN)
        try? input.fileHandleForWriting.write(contentsOf: data)
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(PipelineConfig.notifyTimeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            usleep(200_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return "took longer than \(Int(PipelineConfig.notifyTimeout)) s and was stopped"
        }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : "exited with status \(process.terminationStatus)"
    }

    /// Waits for the queued events; returns how many failed.
    func finish() -> Int {
        group.wait()
        return failures.withLock { $0 }
    }
}
