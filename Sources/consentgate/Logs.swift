import ArgumentParser
import Foundation
import Logging

/// How log lines are written: plain text for a person, or one JSON object per line for a log shipper.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The command line's logger: lines on stderr (never stdout, which carries JSON for scripts), at the level of
/// `CONSENTGATE_LOG_LEVEL` (trace, debug, info, notice, warning, error, critical; default warning, or the
/// command's own default). Metadata names the pipeline, the stage and the asset id, never a file name.
enum Logs {
    static let pipeline: Logger = make(format: .text)

    static func make(format: LogFormat, defaultLevel: Logger.Level = .warning) -> Logger {
        var logger = Logger(label: "consentgate") { label in
            switch format {
            case .text: return StreamLogHandler.standardError(label: label)
            case .json: return JSONLogHandler()
            }
        }
        let wanted = ProcessInfo.processInfo.environment["CONSENTGATE_LOG_LEVEL"]?.lowercased() ?? ""
        logger.logLevel = Logger.Level(rawValue: wanted) ?? defaultLevel
        return logger
    }
}

/// One JSON object per line on stderr: `time`, `level`, `message` and the metadata as strings.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": event.level.rawValue,
            "message": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = "\(value)"
        }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}
