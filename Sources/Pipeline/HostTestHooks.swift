import Foundation
import Synchronization

/// Debug builds only: `CONSENTGATE_TEST_STOP_AT=STEP` makes a run stop itself (SIGSTOP, as a suspended VM or a
/// debugger would freeze it) the first time it reaches STEP, so that tests can prove that a frozen host holds up
/// no other host for longer than a lease or a timeout. A release build has no hook.
enum HostTestHooks {
    enum Step: String, Sendable {
        /// Inside a ledger append, holding the head row's lock (PostgreSQL).
        case append
        /// Holding the sweep lease, before the publish folder is listed.
        case sweep
    }

    static let stopAt: Step? = {
        #if DEBUG
            if let value = ProcessInfo.processInfo.environment["CONSENTGATE_TEST_STOP_AT"] {
                guard let step = Step(rawValue: value) else { fatalError("CONSENTGATE_TEST_STOP_AT: unknown step \(value)") }
                return step
            }
        #endif
        return nil
    }()

    static let stopped = Mutex(false)

    /// Freezes this process here once, when asked to.
    static func reached(_ step: Step) {
        guard let stopAt, stopAt == step, stopped.withLock({ done in defer { done = true }; return !done }) else {
            return
        }
        kill(getpid(), SIGSTOP)
    }
}
