import Foundation

/// A reason a picture may not be published on a channel. Every reason that applied is reported.
public enum RefusalReason: Sendable, Equatable, CustomStringConvertible {
    case noRecord
    /// A valid authorization names the picture only by `content_sha256` under its old definition (coded data only,
    /// blind to edit lists, crops and colour): it approves nothing until re-recorded with `presented_sha256`.
    case oldFingerprint(id: String)
    case invalidRecord(id: String, why: String)
    /// A file in the authorizations folder that is not a valid record names this authorization (or one of its
    /// `supersedes` chain): refused as if revoked now (SPEC §5 "doubt blocks").
    case blockedByInvalidRecord(id: String, file: String, why: String)
    /// A file that is not a valid record and names no authorization: nothing new is published until it is fixed
    /// or removed. Given only for a new publication (`decide(newPublication: true)`).
    case heldByInvalidRecord(file: String, why: String)
    case notYetEffective(id: String, from: CalendarDay)
    case expired(id: String, on: CalendarDay)
    case revoked(id: String, on: Date, by: String)
    case channelNotPermitted(id: String, channel: String)
    case purposeNotPermitted(id: String, purpose: String)
    case superseded(id: String, by: String)
    case notEveryoneConsented(consented: Int, required: Int)
    /// More people are visible (the face detector's count, or a review's) than distinct subjects consented: curable
    /// by the others' authorizations or by a review record (issue #24).
    case morePeopleVisible(visible: Int, consented: Int, source: PeopleCount.Source)
    /// The faces were to be counted and could not be (the detector failed on this picture): a review can state it.
    case peopleNotCounted(why: String)
    /// No record can be verified now (the trust file is unusable, the authorizations folder cannot be listed):
    /// nothing is approved, and what is published is withdrawn (SPEC §6).
    case recordsUnverifiable(why: String)
    /// A takedown in force selects it (SPEC §5): withdrawn everywhere, not published again until a signed lift.
    case takenDown(id: String, reason: String)

    public var description: String {
        switch self {
        case .noRecord: return "no authorization lists this picture"
        case .oldFingerprint(let id):
            return "\(id): lists this picture only by content_sha256, recorded under the old fingerprint definition "
                + "(coded data only): re-record it (presented_sha256)"
        case .invalidRecord(let id, let why): return "\(id): \(why)"
        case .blockedByInvalidRecord(let id, let file, let why):
            return "\(id): blocked by \(file), which is not a valid record (\(why))"
        case .heldByInvalidRecord(let file, let why):
            return "nothing new is published while \(file) is not a valid record and names no authorization (\(why))"
        case .notYetEffective(let id, let from): return "\(id): not effective until \(from)"
        case .expired(let id, let on): return "\(id): expired on \(on)"
        case .revoked(let id, let on, let by): return "\(id): revoked on \(Timestamp.format(on)) (\(by))"
        case .channelNotPermitted(let id, let channel): return "\(id): channel \(channel) not permitted"
        case .purposeNotPermitted(let id, let purpose): return "\(id): purpose \(purpose) not permitted"
        case .superseded(let id, let by): return "\(id): superseded by \(by)"
        case .notEveryoneConsented(let consented, let required): return "\(consented) of \(required) people consented"
        case .morePeopleVisible(let visible, let consented, let source):
            let people = visible == 1 ? "1 person is" : "\(visible) people are"
            let how = source == .review ? " (by a review)" : ""
            return "\(people) visible\(how) and \(consented) \(consented == 1 ? "has" : "have") consented: "
                + "record the others' authorizations, or a review"
        case .peopleNotCounted(let why):
            return "the people in it could not be counted (\(why)): a review record can state how many are visible"
        case .recordsUnverifiable(let why): return "no consent record can be verified now: \(why)"
        case .takenDown(let id, let reason): return "taken down by \(id): \(reason)"
        }
    }

    /// A stable machine-readable code.
    public var code: String { reasonCode.rawValue }

    /// Its reason code.
    public var reasonCode: ReasonCode {
        switch self {
        case .noRecord: return .noRecord
        case .oldFingerprint: return .oldFingerprint
        case .invalidRecord, .blockedByInvalidRecord, .heldByInvalidRecord: return .invalidRecord
        case .notYetEffective: return .notYetEffective
        case .expired: return .expired
        case .revoked: return .revoked
        case .channelNotPermitted: return .channelNotPermitted
        case .purposeNotPermitted: return .purposeNotPermitted
        case .superseded: return .superseded
        case .notEveryoneConsented, .morePeopleVisible, .peopleNotCounted: return .notEveryoneConsented
        case .recordsUnverifiable: return .recordsUnverifiable
        case .takenDown: return .takenDown
        }
    }
}

/// The verdict for one picture on one channel.
public struct ConsentDecision: Sendable, Equatable {
    public var approved: Bool
    /// Authorizations that approve it (empty when refused).
    public var usedRecords: [String]
    /// Every authorization that lists the picture, valid or not.
    public var matchingRecords: [String]
    /// Every reason that applied (empty when approved).
    public var reasons: [RefusalReason]
    /// The keys that signed `usedRecords` (recorded with a publication, so a takedown by key finds it later).
    public var usedKeys: [String] = []
    /// How many people the decision required and where that number came from (nil: no count was given).
    public var peopleRequired: PeopleCount? = nil
}

/// What the ledger says of a publication being re-checked (the sweep), for takedowns: when, under which records
/// and keys it was published.
public struct PublishedFacts: Sendable {
    public var asset: String?
    public var at: Date?
    public var records: [String]
    public var keys: [String]

    public init(asset: String?, at: Date?, records: [String], keys: [String]) {
        self.asset = asset
        self.at = at
        self.records = records
        self.keys = keys
    }
}

/// SPEC §5: publish only when a valid, effective, unexpired, unrevoked authorization for this channel and
/// the purpose "marketing" lists the picture, and, where a record says N people are in the frame, N
/// distinct subjects each hold one. A pure function of its inputs.
public enum ConsentPolicy {
    public static let purpose = "marketing"

    /// - Parameter newPublication: true when deciding whether to publish something not yet published (the
    ///   pipeline's inbox, `check`): then a global doubt (`Registry.globalDoubts`) refuses too. False for
    ///   re-checking what is already published (the sweep), which a global doubt alone does not retract.
    ///
    /// The picture is matched by `presentedSHA256` and `fileSHA256`. `legacyContentSHA256`, its fingerprint under
    /// the old definition, approves nothing: it only names the records to re-record (`oldFingerprint`).
    public static func decide(
        presentedSHA256: String?, legacyContentSHA256: String? = nil, fileSHA256: String?, channel: String,
        registry: Registry, now: Date, newPublication: Bool = false, published: PublishedFacts? = nil,
        visible: VisiblePeople? = nil
    ) -> ConsentDecision {
        if let why = registry.unverifiableBecause {
            return ConsentDecision(
                approved: false, usedRecords: [], matchingRecords: [], reasons: [.recordsUnverifiable(why: why)])
        }
        let today = registry.today(now)
        let candidates = registry.authorizations(presentedSHA256: presentedSHA256, fileSHA256: fileSHA256)
        let candidateIDs = Set(candidates.map(\.id))
        let old = registry.oldDefinitionAuthorizations(contentSHA256: legacyContentSHA256).filter {
            !candidateIDs.contains($0.id)
        }
        let broken = registry.invalidRecords(
            contentSHA256s: [presentedSHA256, legacyContentSHA256], fileSHA256: fileSHA256)
        var reasons: [RefusalReason] = broken.map { .invalidRecord(id: $0.id ?? $0.file, why: $0.reason) }
        reasons += old.map { .oldFingerprint(id: $0.id) }
        var usable: [Authorization] = []
        for authorization in candidates {
            var problems: [RefusalReason] = []
            if today < authorization.effective {
                problems.append(.notYetEffective(id: authorization.id, from: authorization.effective))
            }
            if today >= authorization.expires {
                problems.append(.expired(id: authorization.id, on: authorization.expires))
            }
            // Revoking any record of a supersedes chain revokes the whole chain.
            // A revocation applies from when it was received; one dated ahead of the real clock (at most a day: more
            // is a doubt) applies at once, since nobody can receive a letter tomorrow. (`now` may lie in the past, for
            // an audit: a revocation received after it, and before the real now, did not apply then.)
            for revocation in registry.revocations(affecting: authorization.id)
            where revocation.receivedAt <= now || revocation.receivedAt > Date() {
                if revocation.channels == nil || revocation.channels!.contains(channel) {
                    problems.append(.revoked(id: authorization.id, on: revocation.receivedAt, by: revocation.id))
                }
            }
            if !authorization.channels.contains(channel) {
                problems.append(.channelNotPermitted(id: authorization.id, channel: channel))
            }
            if !authorization.purposes.contains(purpose) {
                problems.append(.purposeNotPermitted(id: authorization.id, purpose: purpose))
            }
            // Doubt blocks: an invalid record that names this authorization (or its chain) refuses it, as if revoked.
            for bad in registry.doubts(blocking: authorization.id) {
                problems.append(.blockedByInvalidRecord(id: authorization.id, file: bad.file, why: bad.reason))
            }
            if let newer = registry.newer(than: authorization.id) {
                problems.append(.superseded(id: authorization.id, by: newer))
            }
            if problems.isEmpty { usable.append(authorization) } else { reasons += problems }
        }
        if candidates.isEmpty && broken.isEmpty && old.isEmpty { reasons.append(.noRecord) }
        let held: [RefusalReason] =
            newPublication ? registry.globalDoubts.map { .heldByInvalidRecord(file: $0.file, why: $0.reason) } : []
        // People in the frame: the largest count any valid record declares for this picture (from the registry's
        // index: a record may list thousands of pictures).
        let declared =
            registry.peopleInFrame(of: candidates, presentedSHA256: presentedSHA256, fileSHA256: fileSHA256) ?? 1
        // Subjects are compared without regard to letter case: "P-1" and "p-1" are one person.
        let subjects = Set(usable.map { $0.subject.lowercased() })
        var people = PeopleCount.required(declared: declared, visible: visible)
        people.consented = subjects.count
        let required = people.count ?? declared
        if !usable.isEmpty {
            if people.count == nil, let why = people.notCounted {
                reasons.append(.peopleNotCounted(why: why))
            } else if subjects.count < required {
                reasons.append(
                    people.source == .declared
                        ? .notEveryoneConsented(consented: subjects.count, required: required)
                        : .morePeopleVisible(visible: required, consented: subjects.count, source: people.source))
            }
        }
        // Takedowns: matched against what the picture stands on now and, for a publication, what it stood on.
        var takenDown: [RefusalReason] = []
        if !registry.takedowns.isEmpty {
            let target = registry.takedownTarget(
                channel: channel, asset: published?.asset, fingerprints: [presentedSHA256, fileSHA256],
                records: published?.records ?? [], keys: published?.keys ?? [], candidates: candidates,
                publishedAt: published?.at)
            takenDown = registry.takedowns(selecting: target, now: now).map {
                .takenDown(id: $0.id, reason: $0.reason)
            }
        }
        let approved =
            !usable.isEmpty && people.count != nil && subjects.count >= required && held.isEmpty && takenDown.isEmpty
        return ConsentDecision(
            approved: approved, usedRecords: approved ? usable.map(\.id) : [],
            matchingRecords: (candidates.map(\.id) + old.map(\.id) + broken.compactMap { $0.id ?? $0.file }).sorted(),
            reasons: approved ? [] : reasons + held + takenDown,
            usedKeys: approved ? Array(Set(usable.compactMap { registry.keyID(ofAuthorization: $0.id) })).sorted() : [],
            peopleRequired: people)
    }
}
