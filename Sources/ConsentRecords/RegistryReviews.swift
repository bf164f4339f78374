import Foundation

extension Registry {
    /// The review that applies to a picture: of those naming its presented or file fingerprint, the one with the
    /// largest count (fail closed), nil when none does.
    public func review(presentedSHA256: String?, fileSHA256: String?) -> PeopleReview? {
        let named = [presentedSHA256, fileSHA256].compactMap { $0 }.flatMap { reviews[$0] ?? [] }
        return named.max { ($0.peopleVisible, $1.id) < ($1.peopleVisible, $0.id) }
    }

    /// What the reader saw, with the review of this picture if there is one (also with `people_check: declared`,
    /// where the reader counted nothing: a review still states how many people are in it).
    public func reviewed(_ visible: VisiblePeople?, presentedSHA256: String?, fileSHA256: String?) -> VisiblePeople? {
        guard let review = review(presentedSHA256: presentedSHA256, fileSHA256: fileSHA256) else { return visible }
        var seen = visible ?? VisiblePeople(faces: nil, fallsBackToDeclared: true)
        seen.reviewed = review.peopleVisible
        seen.reviewID = review.id
        return seen
    }
}
