import ConsentRecords
import Foundation

/// Delivery with several hosts (PostgreSQL ledger, issue 28): a batch is delivered together as one host delivers
/// it (`deliverTogether`: one sync of each folder, one ledger transaction for every event of the batch), under the
/// locks of all its approved pictures, so that two hosts never publish one picture twice and a second host adds
/// throughput instead of transactions.
extension Runner {
    /// The batch under its pictures' locks, taken in the order of their fingerprints (two hosts never wait on
    /// each other in a circle). Each claim is confirmed still this host's, and what is live is read again (as of
    /// now, not of the run's start), before anything is written. A lock that cannot be had, or a claim another
    /// host took over, leaves the whole batch for the next run.
    func deliverTogetherLocked(_ items: [Processed], hosts: any HostCoordination, ledger: any LedgerStore, now: Date)
        -> [Result<ItemReport, PipelineError>]
    {
        let locked = items.filter { $0.decision?.approved == true && $0.fingerprints?.presentedSHA256 != nil }
        let contents = Array(Set(locked.compactMap { $0.fingerprints?.presentedSHA256 })).sorted()
        do throws(PipelineError) {
            return try withPictureLocks(contents[...], hosts: hosts) { () throws(PipelineError) in
                for item in locked { try hosts.confirmClaim(asset: item.asset) }
                for content in contents {
                    let liveNow = !(try ledger.livePublications(pipeline: config.name, contentSHA256: content)).isEmpty
                    live.withLock { set in
                        if liveNow { set.insert(content) } else { set.remove(content) }
                    }
                }
                return deliverTogether(items, ledger: ledger, now: now)
            }
        } catch {
            return items.map { _ in .failure(error) }
        }
    }

    func withPictureLocks<T>(
        _ contents: ArraySlice<String>, hosts: any HostCoordination, _ body: () throws(PipelineError) -> T
    ) throws(PipelineError) -> T {
        guard let first = contents.first else { return try body() }
        return try hosts.withPictureLock(pipeline: config.name, content: first) { () throws(PipelineError) -> T in
            try withPictureLocks(contents.dropFirst(), hosts: hosts, body)
        }
    }
}
