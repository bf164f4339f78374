import ByteKit
import ConsentRecords
import Foundation

/// What the sweep asks of the live publications, a batch at a time (issue 28): from the kept table, so that memory
/// stays flat however many publications are live; or, when the run does not trust the state tables (its ledger
/// failed the quick check), from one replay of the events held in memory, as before the table.
struct LiveLookup {
    let ledger: (any LedgerStore)?
    /// The replay, when the state tables are not read (or there is no ledger: nothing is live).
    let replayed: [String: Ledger.Publication]?
    /// Names looked up together (one query each).
    static let batch = 500

    init(ledger: (any LedgerStore)?) throws(PipelineError) {
        self.ledger = ledger
        if let ledger, ledger.readsState {
            replayed = nil
        } else {
            replayed = try ledger?.livePublications() ?? [:]
        }
    }

    /// Those of `names` that are live publications (of any pipeline), by name.
    func publications(named names: [String]) throws(PipelineError) -> [String: Ledger.Publication] {
        if let replayed {
            var found: [String: Ledger.Publication] = [:]
            for name in names { found[name] = replayed[name] }
            return found
        }
        return try ledger?.keptLivePublications(named: names) ?? [:]
    }

    /// An asset's live publication, if it has one.
    func publication(asset: String) throws(PipelineError) -> Ledger.Publication? {
        if let replayed { return replayed.values.first { $0.asset == asset } }
        return try ledger?.keptLivePublication(asset: asset)
    }

    /// The names of every live publication of `pipeline`, in pages by name, to `body` (the rows are not read).
    func forEachName(pipeline: String, _ body: (String) throws(PipelineError) -> Void) throws(PipelineError) {
        if let replayed {
            for (name, publication) in replayed.sorted(by: { $0.key < $1.key }) where publication.pipeline == pipeline {
                try body(name)
            }
            return
        }
        guard let ledger else { return }
        var after: String? = nil
        while true {
            let page = try ledger.keptLiveNames(pipeline: pipeline, after: after, limit: LiveLookup.batch)
            for name in page { try body(name) }
            guard page.count == LiveLookup.batch, let last = page.last else { return }
            after = last
        }
    }

    /// The content fingerprints of every live publication of `pipeline`.
    func contents(pipeline: String) throws(PipelineError) -> Set<String> {
        if let replayed {
            return Set(replayed.values.filter { $0.pipeline == pipeline }.compactMap(\.contentSHA256))
        }
        return try ledger?.keptLiveContents(pipeline: pipeline) ?? []
    }

    /// Every live publication of `pipeline`, in pages by name, to `body`.
    func forEach(
        pipeline: String, _ body: (Ledger.Publication) throws(PipelineError) -> Void
    ) throws(PipelineError) {
        if let replayed {
            for (_, publication) in replayed.sorted(by: { $0.key < $1.key }) where publication.pipeline == pipeline {
                try body(publication)
            }
            return
        }
        guard let ledger else { return }
        var after: String? = nil
        while true {
            let page = try ledger.keptLivePublications(pipeline: pipeline, after: after, limit: LiveLookup.batch)
            for publication in page { try body(publication) }
            guard page.count == LiveLookup.batch, let last = page.last else { return }
            after = last.name
        }
    }
}

extension Runner {
    /// One name listed in the publish folder: a live publication is checked (unchanged since it was published, its
    /// consent valid now) and withdrawn if not; anything else is a stranger, unless another host's delivery of it
    /// is in flight.
    func sweepOne(
        _ raw: [UInt8], live: [String: Ledger.Publication], lookup: LiveLookup, hosts: (any HostCoordination)?,
        records: RunRegistry, ledger: (any LedgerStore)?, dryRun: Bool, now: Date, inHand: Set<String>,
        memo: SweepMemoUse, handled: inout Set<[UInt8]>, summary: inout RunSummary
    ) throws(PipelineError) {
        let name = String(decoding: raw, as: UTF8.self)
        // Another host's delivery in progress writes these (stale ones are removed at the start of a run).
        if dryRun || config.postgres != nil, raw.first == UInt8(ascii: "."), name.hasSuffix(".tmp"),
            name.contains(".cg-")
        {
            return
        }
        if !inHand.isEmpty, inHand.contains(String(name.prefix(32))) { return }
        let path = RawPath(config.publish).appending(raw)
        guard Array(name.utf8) == raw, let publication = live[name] else {
            if try inFlight(name, lookup: lookup, hosts: hosts, ledger: ledger) { return }
            handled.insert(raw)
            try withdrawStranger(path, raw: raw, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
            return
        }
        var reasons: [Reason] = []
        if let stamp = Runner.statStamp(path) {
            // Hashed again only when its size, times or inode changed since it was published.
            if stamp != publication.publishedStat {
                let sha = try? FileSource(pathBytes: path.bytes, followLinks: false).sha256()
                if sha == nil || sha != publication.publishedSHA256 {
                    reasons.append(
                        Reason(
                            .changedInPublish,
                            "the file in publish is not the one ConsentGate published (its SHA-256 differs)"))
                }
            }
        } else {
            reasons.append(Reason(.changedInPublish, "the published name is no longer a regular file with one link"))
        }
        // Decided again unless the sweep's memory holds its decision (same records, before their next date).
        if memo.covers(publication, now: now) {
            summary.publicationsKept += 1
        } else {
            summary.publicationsRedecided += 1
            let registry = try records.registry(&summary)
            let decision = ConsentPolicy.decide(
                presentedSHA256: publication.contentSHA256, fileSHA256: publication.fileSHA256,
                channel: config.channel, registry: registry, now: now,
                published: PublishedFacts(
                    asset: publication.asset, at: publication.publishedAt, records: publication.records,
                    keys: publication.recordKeys))
            if !decision.approved { reasons += decision.reasons.map(Reason.init) }
        }
        if reasons.isEmpty { return }
        handled.insert(raw)
        try withdraw(
            publication, from: path, reasons: reasons, ledger: ledger, dryRun: dryRun, now: now, summary: &summary)
    }
}
