import Crypto
import Foundation

/// What a decision about a publication depends on besides the clock (issue 28): the sweep keeps the fingerprint of
/// the registry it last decided every live publication with, and until when those decisions hold, so that a run
/// whose records did not change decides again only what is new.
extension Registry {
    /// A SHA-256 over everything in this registry a decision reads: every record file's name and bytes' hash, and
    /// what was added to them from the ledger's memory (revocations, takedowns and lifts, `supersedes` chains,
    /// reviews), its zone and pipeline. Nil where no decision may be kept (fail closed): records that cannot be
    /// verified, or any invalid record in the folder (an invalid record can turn valid as time passes, a signature
    /// dated a few minutes ahead, and change what others decide).
    public var decisionFingerprint: String? {
        guard unverifiableBecause == nil, invalid.isEmpty else { return nil }
        var hasher = SHA256()
        func add(_ parts: String...) {
            for part in parts { hasher.update(data: Array(part.utf8) + [0]) }
        }
        func time(_ date: Date?) -> String { date.map { String($0.timeIntervalSince1970) } ?? "-" }
        add("registry-fingerprint-v1", timeZone.identifier, pipelineName ?? "-")
        for sighting in sightings.sorted(by: { ($0.file, $0.sha256) < ($1.file, $1.sha256) }) {
            add("file", sighting.file, sighting.sha256)
        }
        for (id, verified) in authorizations.sorted(by: { $0.key < $1.key }) {
            add("authorization", id, verified.file, verified.keyID, time(verified.signedAt))
        }
        for (target, list) in revocations.sorted(by: { $0.key < $1.key }) {
            for revocation in list.sorted(by: { $0.id < $1.id }) {
                add(
                    "revocation", target, revocation.id, revocation.authorization, time(revocation.receivedAt),
                    revocation.channels?.joined(separator: ",") ?? "*")
            }
        }
        for (key, takedown) in takedowns.sorted(by: { $0.key < $1.key }) {
            add("takedown", key, takedown.id, time(takedown.recordedAt))
        }
        for (key, list) in lifts.sorted(by: { $0.key < $1.key }) {
            for lift in list.sorted(by: { $0.id < $1.id }) { add("lift", key, lift.id, lift.takedown) }
        }
        for (key, list) in reviews.sorted(by: { $0.key < $1.key }) {
            for review in list.sorted(by: { $0.id < $1.id }) { add("review", key, review.id, "\(review.peopleVisible)") }
        }
        for (old, new) in supersededBy.sorted(by: { $0.key < $1.key }) { add("superseded", old, new) }
        for (id, chain) in chains.sorted(by: { $0.key < $1.key }) { add("chain", id, chain.joined(separator: ",")) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Until when a decision made at `now` with this registry comes out the same: the next midnight of its zone
    /// (records' dates and keys' windows are calendar days), or an earlier moment that a record names (a
    /// revocation's receipt, a record's own time, a takedown's window, each also less the skew and lead that
    /// plausibility allows), whichever comes first.
    public func decisionsHold(from now: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // The start of tomorrow (a day whose midnight is skipped by a clock change starts at 01:00; adding a day to
        // today's start would land an hour after tomorrow's calendar day began).
        var until = calendar.date(byAdding: .day, value: 1, to: now).map { calendar.startOfDay(for: $0) } ?? now
        func consider(_ instant: Date?) {
            guard let instant else { return }
            for moment in [
                instant, instant.addingTimeInterval(-Plausibility.timeSkew),
                instant.addingTimeInterval(-Plausibility.revocationLead),
            ] where moment > now && moment < until {
                until = moment
            }
        }
        for verified in authorizations.values { consider(verified.signedAt) }
        for list in revocations.values { for revocation in list { consider(revocation.receivedAt) } }
        for takedown in takedowns.values {
            consider(takedown.recordedAt)
            consider(takedown.select.publishedFrom)
            consider(takedown.select.publishedTo)
        }
        for list in lifts.values { for lift in list { consider(lift.recordedAt) } }
        for list in reviews.values { for review in list { consider(review.recordedAt) } }
        return until
    }
}
