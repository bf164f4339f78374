import ConsentRecords
import Foundation

/// A pipeline's records as the pipeline sees them: the authorizations folder verified against the trust file,
/// with the ledger's memory added, so that `run`, `watch` and `check --pipeline` decide alike.
///
/// - A record signed by a retired key is judged by when the ledger first saw its bytes.
/// - A revocation, once seen, stays in force when its file is deleted or altered: the ledger keeps it (revoking is
///   permanent; to publish again, the patient signs a new authorization, recorded under a new id).
public enum PipelineRecords {
    /// What a `record_seen` event keeps of a valid revocation.
    static func memory(of revocation: Revocation) -> [String: Any] {
        [
            "id": revocation.id, "authorization": revocation.authorization,
            "received_at": Ledger.timestamp(revocation.receivedAt),
            "channels": revocation.channels ?? NSNull(),
        ]
    }

    public static func load(config: PipelineConfig, trust: TrustStore, ledger: (any LedgerStore)?, now: Date)
        throws(PipelineError) -> Registry
    {
        let loaded = try loadNoting(config: config, trust: .success(trust), ledger: ledger, now: now)
        if let why = loaded.registry.unverifiableBecause { throw PipelineError(why) }
        return loaded.registry
    }

    /// The same, with a sentence for each remembered revocation whose file is gone: the authorizations folder and
    /// the ledger disagree, which a person must hear of (the run counts it as a doubt).
    ///
    /// A trust file that cannot be used, or an authorizations folder that cannot be listed (a share not mounted),
    /// is no reason to stop: the registry then verifies nothing (`Registry.unverifiable`), so nothing new is
    /// published and the sweep withdraws what is published, loudly (SPEC §6).
    static func loadNoting(
        config: PipelineConfig, trust: Result<TrustStore, TrustStoreError>, ledger: (any LedgerStore)?, now: Date,
        signatures: SignatureCacheUse? = nil
    ) throws(PipelineError) -> (registry: Registry, gone: [String]) {
        var gone: [String] = []
        let firstSeen = try ledger?.recordsFirstSeen() ?? [:]
        var registry: Registry
        switch trust {
        case .failure(let error):
            registry = .unverifiable(
                timeZone: config.timeZone, because: "the trust file \(config.trust) cannot be used: \(error)")
        case .success(let trust):
            do {
                registry = try Registry.load(
                    folder: config.authorizations, trust: trust, now: now, timeZone: config.timeZone,
                    firstSeen: { _, sha in firstSeen[sha] }, signatureCache: signatures?.cache)
            } catch {
                registry = .unverifiable(timeZone: config.timeZone, because: "\(error)")
            }
        }
        registry.pipelineName = config.name
        guard let ledger else { return (registry, gone) }
        gone += try rememberTakedowns(into: &registry, ledger: ledger, pipeline: config.name)
        // The supersedes links of authorizations seen before, whose files may be gone: a chain stays whole.
        var links: [Registry.Link] = []
        for event in try ledger.events(EventQuery(kinds: [.recordSeen], detailContains: "\"supersedes\"")) {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let kept = detail["supersedes"] as? [String: Any], let id = kept["id"] as? String,
                let old = kept["supersedes"] as? String
            else { continue }
            links.append(Registry.Link(id: id, supersedes: old))
        }
        registry.addRemembered(links: links)
        let present = Set(registry.revocations.values.flatMap { $0.map(\.id) })
        for event in try ledger.events(EventQuery(kinds: [.recordSeen], detailContains: "\"revocation\"")) {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let kept = detail["revocation"] as? [String: Any], let id = kept["id"] as? String,
                let authorization = kept["authorization"] as? String, !present.contains(id),
                let receivedText = kept["received_at"] as? String, let received = Ledger.parseTimestamp(receivedText)
            else { continue }
            let revocation = Revocation(
                id: id, authorization: authorization, receivedAt: received, channels: kept["channels"] as? [String])
            _ = registry.addRemembered(revocation)
            gone.append(
                "revocation \(id) of \(authorization) (seen on \(event.at)) is no longer in the authorizations folder; "
                    + "it stays in force: revoking cannot be undone, a new authorization is needed")
        }
        return (registry, gone)
    }

    /// Records in the ledger the record files it has not seen before (with what a revocation says, so that it is
    /// remembered), and returns how many were new.
    @discardableResult
    static func remember(_ registry: Registry, config: PipelineConfig, ledger: any LedgerStore) throws(PipelineError) -> Int {
        var recorded = Set(try ledger.recordsFirstSeen().keys)
        let revocationsByFile = Dictionary(
            registry.revocations.values.flatMap { $0 }.map { ($0.id + ".json", $0) }, uniquingKeysWith: { a, _ in a })
        var linksByFile: [String: (id: String, supersedes: String)] = [:]
        for (id, verified) in registry.authorizations {
            if case .authorization(let authorization) = verified.record, let old = authorization.supersedes {
                linksByFile[verified.file] = (id, old)
            }
        }
        let takedownsByFile = Dictionary(
            registry.takedowns.values.map { ($0.id + ".json", $0) }, uniquingKeysWith: { a, _ in a })
        let liftsByFile = Dictionary(
            registry.lifts.values.flatMap { $0 }.map { ($0.id + ".json", $0) }, uniquingKeysWith: { a, _ in a })
        var count = 0
        for sighting in registry.sightings where !recorded.contains(sighting.sha256) {
            var detail: [String: Any] = [:]
            if let revocation = revocationsByFile[sighting.file] { detail["revocation"] = memory(of: revocation) }
            if let takedown = takedownsByFile[sighting.file] { detail["takedown"] = memory(of: takedown) }
            if let lift = liftsByFile[sighting.file] { detail["takedown_lift"] = memory(of: lift) }
            if let link = linksByFile[sighting.file] {
                detail["supersedes"] = ["id": link.id, "supersedes": link.supersedes]
            }
            try ledger.append(
                pipeline: config.name, kind: .recordSeen, asset: nil, fileSHA256: sighting.sha256,
                contentSHA256: nil, detail: detail)
            recorded.insert(sighting.sha256)
            count += 1
        }
        return count
    }
}
