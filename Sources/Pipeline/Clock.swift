import Foundation

/// The time a decision is made at. A run's consent decisions and its sweeps each ask for it when they decide
/// (never the run's start alone), so that a revocation or an expiry that falls within a run applies within it.
extension Runner {
    /// Now. In debug builds `CONSENTGATE_TEST_CLOCK_FILE` names a file holding a number of seconds added to the
    /// system clock, read at every call, so that a test can move the clock while a run is in progress.
    public static func clock() -> Date {
        #if DEBUG
            if let file = ProcessInfo.processInfo.environment["CONSENTGATE_TEST_CLOCK_FILE"],
                let text = try? String(contentsOfFile: file, encoding: .utf8),
                let offset = Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return Date().addingTimeInterval(offset)
            }
        #endif
        return Date()
    }

    /// The time of a decision in a run that started at `start`: now, but never before the start (a clock stepped
    /// back during a run does not bring back what the run already judged gone).
    static func decisionTime(after start: Date) -> Date { max(start, clock()) }
}
