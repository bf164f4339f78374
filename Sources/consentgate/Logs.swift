import Foundation
import Logging

/// The command line's logger: lines on stderr (never stdout, which carries JSON for scripts), at the level of
/// `CONSENTGATE_LOG_LEVEL` (trace, debug, info, notice, warning, error, critical; default warning). Metadata names
/// the pipeline, the stage and the asset id, never a file name.
enum Logs {
    static let pipeline: Logger = {
        var logger = Logger(label: "consentgate", factory: { StreamLogHandler.standardError(label: $0) })
        let wanted = ProcessInfo.processInfo.environment["CONSENTGATE_LOG_LEVEL"]?.lowercased() ?? ""
        logger.logLevel = Logger.Level(rawValue: wanted) ?? .warning
        return logger
    }()
}
