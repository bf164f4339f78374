import Dispatch

/// A stage's own Dispatch queue: runs at most `width` jobs at once (SPEC §2: each stage has its own bounded
/// concurrency). Jobs never wait on one another, so a job that enqueues the next stage's work cannot deadlock.
final class StageQueue: Sendable {
    let stage: Stage
    /// Where jobs run, up to `width` at a time.
    private let queue: DispatchQueue
    /// Hands jobs to `queue` in order, waiting for a free place first.
    private let feeder: DispatchQueue
    private let places: DispatchSemaphore

    init(_ stage: Stage, width: Int) {
        self.stage = stage
        queue = DispatchQueue(label: "consentgate.\(stage.rawValue)", attributes: .concurrent)
        feeder = DispatchQueue(label: "consentgate.\(stage.rawValue).feeder")
        places = DispatchSemaphore(value: max(1, width))
    }

    func async(group: DispatchGroup, _ job: @escaping @Sendable () -> Void) {
        group.enter()
        feeder.async { [queue, places] in
            places.wait()
            queue.async {
                job()
                places.signal()
                group.leave()
            }
        }
    }
}
