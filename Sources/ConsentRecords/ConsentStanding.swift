import Foundation

/// Who has consented to one picture, for the privacy office (the review page, `review --export`, the office app):
/// every authorization that lists it, whether each counts now and why not, which subjects hold one that counts,
/// and how many people are still missing. It explains `ConsentPolicy.decide`; it never decides anything itself.
public struct ConsentStanding: Sendable, Equatable, Encodable {
    public struct Holder: Sendable, Equatable, Encodable {
        public var id: String
        public var subject: String
        public var channels: [String]
        public var effective: String
        public var expires: String
        /// Whether this authorization counts for the picture on this channel today.
        public var counts: Bool
        /// The reason codes that keep it from counting (`expired`, `revoked`, `channel_not_permitted`...).
        public var problems: [String]
    }

    /// People the picture needs consents from: the largest `people_in_frame` the records declare (at least 1), or
    /// more where the face detector (or a signed review) counted more, as the decision does.
    public var required: Int
    /// Subjects whose authorization counts now, as first written.
    public var consented: [String]
    /// People still without an authorization that counts.
    public var missing: Int
    public var holders: [Holder]

    /// `consented.count` of `required`, in words: "1 of 2 people consented (P-1); 1 missing".
    public var summary: String {
        var text = "\(consented.count) of \(required) \(required == 1 ? "person" : "people") consented"
        if !consented.isEmpty { text += " (\(consented.joined(separator: ", ")))" }
        if missing > 0 { text += "; \(missing) missing" }
        return text
    }

    public static func of(
        presentedSHA256: String?, fileSHA256: String?, channel: String, registry: Registry, now: Date,
        visible: VisiblePeople? = nil
    ) -> ConsentStanding {
        let candidates = registry.authorizations(presentedSHA256: presentedSHA256, fileSHA256: fileSHA256)
        let decision = ConsentPolicy.decide(
            presentedSHA256: presentedSHA256, fileSHA256: fileSHA256, channel: channel, registry: registry, now: now,
            visible: visible)
        func matches(_ asset: AssetReference) -> Bool {
            (presentedSHA256 != nil && asset.presentedSHA256 == presentedSHA256)
                || (fileSHA256 != nil && asset.fileSHA256 == fileSHA256)
        }
        let declared = candidates.flatMap { $0.assets.filter(matches).compactMap(\.peopleInFrame) }.max() ?? 1
        // The faces found (or a review's count) raise it, as they do in the decision.
        let required = max(declared, decision.peopleRequired?.count ?? declared)
        var holders: [Holder] = []
        var consented: [String] = []
        var seen = Set<String>()
        for authorization in candidates.sorted(by: { $0.id < $1.id }) {
            let problems = decision.reasons.filter { $0.recordID == authorization.id }.map(\.code)
            let counts = problems.isEmpty && registry.unverifiableBecause == nil
            holders.append(
                Holder(
                    id: authorization.id, subject: authorization.subject, channels: authorization.channels,
                    effective: authorization.effective.description, expires: authorization.expires.description,
                    counts: counts, problems: Array(Set(problems)).sorted()))
            // Subjects are compared without regard to letter case, as the decision does.
            if counts && seen.insert(authorization.subject.lowercased()).inserted {
                consented.append(authorization.subject)
            }
        }
        return ConsentStanding(
            required: required, consented: consented, missing: max(0, required - consented.count), holders: holders)
    }
}

extension RefusalReason {
    /// The authorization a reason is about, if it is about one.
    public var recordID: String? {
        switch self {
        case .oldFingerprint(let id), .invalidRecord(let id, _), .blockedByInvalidRecord(let id, _, _),
            .notYetEffective(let id, _), .expired(let id, _), .revoked(let id, _, _),
            .channelNotPermitted(let id, _), .purposeNotPermitted(let id, _), .superseded(let id, _):
            return id
        case .noRecord, .heldByInvalidRecord, .notEveryoneConsented, .morePeopleVisible, .peopleNotCounted,
            .recordsUnverifiable, .takenDown:
            return nil
        }
    }
}
