import ArgumentParser
import Dispatch
import Foundation
import MediaWorker
import Pipeline
import Synchronization

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Long-running: process each pipeline's drop folder as files arrive (inotify plus a periodic rescan).",
        discussion: """
            consentgate watch Pipelines/website.yml

            inotify makes local drops prompt; a rescan every rescan_seconds catches files written by other hosts \
            on SMB/NFS shares, which inotify does not see. Files still being copied are left until unchanged for \
            settle_seconds. SIGTERM or SIGINT: the files in hand are finished, then it exits (a PostgreSQL ledger that \
            stops answering delays that by at most its client wait, max(statement_timeout, lock_timeout) + 5 s). Run it under systemd \
            (see the README). Exit status on exit: as `run` (the worst of its passes); 2 on a configuration error.
            """)

    @Argument(help: "Pipeline files (YAML).") var pipelines: [String]
    @Option(help: "Log lines as text or json (one object a line, for log shippers), on stderr.")
    var logFormat: LogFormat = .text

    func run() throws {
        var configs: [PipelineConfig] = []
        for path in pipelines {
            do { configs.append(try PipelineConfig.load(path: path)) } catch {
                Output.error("watch: \(error)")
                throw ExitCode(2)
            }
        }
        do { try PipelineConfig.checkTogether(configs) } catch {
            Output.error("watch: \(error)")
            throw ExitCode(2)
        }
        let inotify: InboxWatch
        do { inotify = try InboxWatch() } catch {
            Output.error("watch: \(error)")
            throw ExitCode(2)
        }
        let stop = Mutex(false)
        let wake = DispatchSemaphore(value: 0)
        let events = DispatchQueue(label: "consentgate.watch.events")
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        var sources: [any DispatchSourceProtocol] = []
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: events)
            source.setEventHandler {
                stop.withLock { $0 = true }
                wake.signal()
            }
            source.resume()
            sources.append(source)
        }
        let reader = DispatchSource.makeReadSource(fileDescriptor: inotify.fd, queue: events)
        reader.setEventHandler { if inotify.drain() { wake.signal() } }
        reader.resume()
        sources.append(reader)
        let rescan = configs.map(\.rescanSeconds).min() ?? 60
        let timer = DispatchSource.makeTimerSource(queue: events)
        timer.schedule(deadline: .now() + rescan, repeating: rescan)
        timer.setEventHandler { wake.signal() }
        timer.resume()
        sources.append(timer)

        Output.error(
            "watch: watching \(configs.map(\.name).joined(separator: ", ")); rescan every \(Int(rescan)) s; SIGTERM to stop"
        )
        var status: Int32 = 0
        // One line per outcome (asset id, outcome, reason codes, record ids: never a file name), at notice.
        let logger = Logs.make(format: logFormat, defaultLevel: .notice)
        // How each pipeline's folders move files (docs/shares.md), said when first known and whenever it changes.
        var moves: [String: String] = [:]
        // One pool of sandboxed workers for the whole watch (they are long-lived), sized by the first pipeline.
        let media: MediaService
        do {
            media = try Workers.media(
                memoryMB: configs.map(\.workerMemoryMB).max() ?? 4096,
                seconds: configs.map(\.workerSeconds).max() ?? 120)
        } catch {
            Output.error("watch: \(error)")
            throw ExitCode(3)
        }
        defer { media.shutdown() }
        if let why = media.unsandboxedBecause { Output.error("watch: UNSANDBOXED: \(why)") }
        while !stop.withLock({ $0 }) {
            for config in configs {
                if stop.withLock({ $0 }) { break }
                do {
                    try config.prepare()
                    inotify.addWatches(inbox: config.inbox)
                    let summary = try Runner(config: config, logger: logger, media: media).run(shouldStop: { stop.withLock { $0 } })
                    status = max(status, summary.exitCode)
                    // The office app's data (office_export:), refreshed after every pass that did something.
                    if let export = config.office.export,
                        summary.published + summary.quarantined + summary.retracted + summary.released > 0
                            || !FileManager.default.fileExists(atPath: export + "/cards.json")
                    {
                        do throws(PipelineError) { try OfficeExport.write(config: config, to: export, media: media) } catch {
                            logger.error("office export not refreshed", metadata: ["why": "\(error)"])
                        }
                    }
                    for item in summary.items {
                        logger.notice(
                            "outcome",
                            metadata: [
                                "pipeline": "\(config.name)", "asset": "\(item.asset)", "outcome": "\(item.outcome.rawValue)",
                                "reasons": "\(item.codes.joined(separator: ","))",
                                "records": "\(item.records.joined(separator: ","))",
                            ])
                    }
                    let said = summary.folders.map { "\($0.folder) \($0.moves)" }.joined(separator: ", ")
                    if !said.isEmpty && moves[config.name] != said {
                        moves[config.name] = said
                        Output.error("watch: \(config.name): moves: \(said)")
                    }
                    for record in summary.invalidRecords {
                        Output.error("watch: \(config.name): invalid record \(record.file): \(record.reason)")
                    }
                    for line in summary.publishingStopped {
                        Output.error("watch: \(config.name): nothing new published: \(line)")
                    }
                    if summary.published + summary.quarantined + summary.retracted + summary.left > 0 {
                        print(
                            "\(Date()): \(summary.pipeline): \(summary.published) published, \(summary.quarantined) quarantined, "
                                + "\(summary.retracted) retracted, \(summary.left) left")
                        fflush(nil)
                    }
                } catch {
                    // The layout is checked again on every pass: an inbox swapped for a link stops this pipeline.
                    Output.error("watch: \(config.name): \(error)")
                    status = max(status, error.exitCode)
                }
            }
            if stop.withLock({ $0 }) { break }
            wake.wait()
            // Let a burst of events (a folder of photos being copied) arrive before the next pass.
            usleep(200_000)
            while wake.wait(timeout: .now()) == .success {}
        }
        for source in sources { source.cancel() }
        Output.error("watch: stopped")
        if status != 0 { throw ExitCode(status) }
    }
}
