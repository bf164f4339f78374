import Foundation

/// What the picture's reader saw of the people in it (issue #24), given to `ConsentPolicy.decide`.
public struct VisiblePeople: Sendable, Equatable {
    /// Faces the detector found (at or over its threshold and `min_face_pixels`); nil when they were not counted.
    public var faces: Int?
    /// Why the faces were not counted. `fallsBackToDeclared`: a format the detector cannot read (since issue 24
    /// every published format is read; TIFF and the like are refused anyway): the declared count applies and the run
    /// says so. Otherwise (the detector failed on a picture or video it reads) nothing is published until a review
    /// states the count.
    public var notCounted: String?
    public var fallsBackToDeclared: Bool
    /// What a review record (`consentgate.review/v1`) states for this picture: used instead of `faces`.
    public var reviewed: Int?
    public var reviewID: String?

    public init(
        faces: Int?, notCounted: String? = nil, fallsBackToDeclared: Bool = false, reviewed: Int? = nil,
        reviewID: String? = nil
    ) {
        self.faces = faces
        self.notCounted = notCounted
        self.fallsBackToDeclared = fallsBackToDeclared
        self.reviewed = reviewed
        self.reviewID = reviewID
    }
}

/// How many distinct consenting subjects a picture needs, and where that number came from.
public struct PeopleCount: Sendable, Equatable, Codable {
    public enum Source: String, Sendable, Codable {
        /// The face detector's count (more than any record declares).
        case detector
        /// A review record's count.
        case review
        /// What the records declare (`people_in_frame`, at least 1): no count was given, the detector saw no more
        /// people, or the format has no detector.
        case declared
    }

    /// Nil only when the faces could not be counted and no review states them (`notCounted` says why).
    public var count: Int?
    public var source: Source
    /// The faces the detector found, when it looked.
    public var faces: Int?
    public var reviewID: String?
    public var notCounted: String?
    /// Distinct subjects whose valid authorizations cover it (set by the decision).
    public var consented: Int? = nil

    public init(
        count: Int?, source: Source, faces: Int? = nil, reviewID: String? = nil, notCounted: String? = nil
    ) {
        self.count = count
        self.source = source
        self.faces = faces
        self.reviewID = reviewID
        self.notCounted = notCounted
    }

    /// S must reach max(P, F), or max(P, R) when a review states R (a review never lowers the count below what a
    /// record declares).
    public static func required(declared: Int, visible: VisiblePeople?) -> PeopleCount {
        guard let visible else { return PeopleCount(count: declared, source: .declared) }
        if let reviewed = visible.reviewed {
            return PeopleCount(
                count: max(declared, reviewed), source: .review, faces: visible.faces,
                reviewID: visible.reviewID)
        }
        if let faces = visible.faces {
            return PeopleCount(count: max(declared, faces), source: faces > declared ? .detector : .declared, faces: faces)
        }
        if visible.fallsBackToDeclared {
            return PeopleCount(count: declared, source: .declared, notCounted: visible.notCounted)
        }
        return PeopleCount(count: nil, source: .declared, notCounted: visible.notCounted ?? "the faces were not counted")
    }
}
