import Foundation

/// Debug builds only: `CONSENTGATE_TEST_KILL_AT=STEP` makes a run kill itself (SIGKILL, as `kill -9` would) when
/// the first batch of at least two files reaches STEP of group commit (of claims or of deliveries), so that tests can prove that a kill between
/// any two steps loses nothing and publishes nothing twice. With it set, delivery also waits (up to 10 s) until two
/// files are ready, so that batches form however fast the machine is. A release build has no hook: `current` is
/// always the inert one.
struct DeliveryTestHooks: Sendable {
    enum Step: String, CaseIterable, Sendable {
        /// Claims: the batch's files are renamed into the work folder; the folder is not synced, no event recorded.
        case claimsMoved = "claims-moved"
        /// The batch's copies are synced and its reason files written; nothing renamed yet.
        case synced
        /// The first copy of the batch is renamed into publish, the others not yet.
        case renamedOne = "renamed-one"
        /// Every copy is in publish and the folder synced; no event recorded.
        case published
        /// The batch's events are in the ledger; no original moved.
        case recorded
        /// The first original is moved, the others not yet.
        case movedOne = "moved-one"
        /// The sweep: the first publication it withdraws is moved out of publish; its `retracted` event not recorded.
        case withdrawnOne = "withdrawn-one"
    }

    /// Where to die, if anywhere.
    let killAt: Step?

    /// True when delivery should wait for a batch of two (only while a kill is asked for).
    var gathers: Bool { killAt != nil }

    static let current: DeliveryTestHooks = {
        #if DEBUG
            if let value = ProcessInfo.processInfo.environment["CONSENTGATE_TEST_KILL_AT"] {
                guard let step = Step(rawValue: value) else {
                    fatalError("CONSENTGATE_TEST_KILL_AT: unknown step \(value)")
                }
                return DeliveryTestHooks(killAt: step)
            }
        #endif
        return DeliveryTestHooks(killAt: nil)
    }()

    /// Waits (up to 10 s) until the files ready for delivery make a batch that reaches the step asked for: two
    /// files, and for `renamed-one` at least one copy to publish among them (a batch of quarantines alone renames
    /// nothing, and would be delivered whole before the kill). `ready` gives the files waiting and how many of
    /// them have a copy to publish; none waiting means an earlier batch took this file, so there is nothing to wait for.
    func gather(_ ready: () -> (files: Int, copies: Int)) {
        guard let killAt else { return }
        let until = Date().addingTimeInterval(10)
        while Date() < until {
            let (files, copies) = ready()
            if files == 0 || (files >= 2 && (killAt != .renamedOne || copies >= 1)) { return }
            usleep(10_000)
        }
    }

    /// Dies here when asked to (steps outside delivery's batches: the first time it is reached).
    func reached(_ step: Step) {
        guard let killAt, killAt == step else { return }
        kill(getpid(), SIGKILL)
        while true { pause() }
    }

    /// Dies here when asked to, in a batch of at least two files.
    func reached(_ step: Step, batch: Int) {
        guard let killAt, killAt == step, batch >= 2 else { return }
        kill(getpid(), SIGKILL)
        // SIGKILL cannot be caught; nothing after it runs.
        while true { pause() }
    }
}
