import Foundation

extension Registry {
    /// Takedowns no valid lift ends, oldest id first.
    public var takedownsInForce: [Takedown] {
        takedowns.filter { lifts[$0.key] == nil }.map(\.value).sorted { $0.id < $1.id }
    }

    /// Adds a takedown the ledger remembers (its file is gone); false when this registry has it already.
    @discardableResult
    public mutating func addRemembered(_ takedown: Takedown) -> Bool {
        let folded = Registry.fold(takedown.id)
        guard takedowns[folded] == nil else { return false }
        takedowns[folded] = takedown
        return true
    }

    /// Adds a lift the ledger remembers; false when this registry has it already.
    @discardableResult
    public mutating func addRemembered(_ lift: TakedownLift) -> Bool {
        let folded = Registry.fold(lift.takedown)
        if lifts[folded]?.contains(where: { $0.id == lift.id }) == true { return false }
        lifts[folded, default: []].append(lift)
        return true
    }

    /// The signing key of a verified authorization (any letter case of its id).
    public func keyID(ofAuthorization id: String) -> String? {
        authorizationID(matching: id).flatMap { authorizations[$0]?.keyID }
    }

    /// The target a takedown is matched against: the picture's fingerprints, the records it stands on (those
    /// `records` names, from the ledger, and those `candidates` of today's registry), their chains, subjects and
    /// signing keys (`keys`: as the ledger recorded them at publication; the registry's for the rest).
    public func takedownTarget(
        channel: String, asset: String?, fingerprints: [String?], records: [String], keys: [String],
        candidates: [Authorization], publishedAt: Date?
    ) -> TakedownTarget {
        var folded = Set<String>()
        var subjects = Set<String>()
        var keySet = Set(keys.map { $0.uppercased() })
        for id in records + candidates.map(\.id) {
            folded.formUnion(chain(of: id))
            if let own = authorizationID(matching: id), let verified = authorizations[own] {
                keySet.insert(verified.keyID)
                if case .authorization(let authorization) = verified.record {
                    subjects.insert(authorization.subject.lowercased())
                }
            }
        }
        return TakedownTarget(
            pipeline: pipelineName, channel: channel, asset: asset, fingerprints: Set(fingerprints.compactMap { $0 }),
            records: folded, subjects: subjects, keys: keySet, publishedAt: publishedAt)
    }

    /// The takedowns in force that select `target`.
    public func takedowns(selecting target: TakedownTarget, now: Date) -> [Takedown] {
        takedownsInForce.filter { $0.selects(target, now: now, chain: { self.chain(of: $0) }) }
    }
}
