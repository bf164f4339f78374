import Foundation

/// `consentgate.review/v1` (role `review`, issue #24): the privacy office states, for one picture (by fingerprint),
/// how many people are identifiable in it, where the face detector errs (a poster, a mirror, a face too small or
/// turned away). The count is used instead of the detector's and as a `people_in_frame`; it never lowers the count
/// below what an authorization itself declares. Several reviews of one picture: the largest count applies (to
/// correct one downward, remove it and sign a new one).
public struct PeopleReview: Sendable, Equatable {
    public static let type = "consentgate.review/v1"
    public var id: String
    /// The picture's `presented_sha256` (what authorizations name) or its `file_sha256`: exactly one.
    public var presentedSHA256: String?
    public var fileSHA256: String?
    /// People identifiable in the picture (0 or more).
    public var peopleVisible: Int
    /// Why (e.g. "the second face is a poster"); never a patient's name.
    public var note: String?
    public var recordedBy: String?
    public var recordedAt: Date?

    public init(
        id: String, presentedSHA256: String?, fileSHA256: String? = nil, peopleVisible: Int, note: String? = nil,
        recordedBy: String? = nil, recordedAt: Date? = nil
    ) {
        self.id = id
        self.presentedSHA256 = presentedSHA256
        self.fileSHA256 = fileSHA256
        self.peopleVisible = peopleVisible
        self.note = note
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
    }

    /// The largest count any review may state (a crowd is a crowd: more needs no review).
    public static let maxPeople = 10_000

    /// Checks its rules (also for the command line, before anything is signed).
    public func validate() throws(RecordError) {
        guard RecordParser.isValidID(id) else { throw RecordError(reason: "\"\(id)\" is not a valid record id") }
        guard (presentedSHA256 == nil) != (fileSHA256 == nil) else {
            throw RecordError(reason: "a review names exactly one of presented_sha256 or file_sha256")
        }
        for hash in [presentedSHA256, fileSHA256].compactMap({ $0 }) where !RecordParser.isSHA256(hash) {
            throw RecordError(reason: "fingerprint \"\(hash)\" must be 64 lower-case hex digits")
        }
        guard (0...PeopleReview.maxPeople).contains(peopleVisible) else {
            throw RecordError(reason: "people_visible must be a whole number from 0 to \(PeopleReview.maxPeople)")
        }
    }
}

extension RecordParser {
    static let reviewFields: Set<String> = [
        "type", "id", "presented_sha256", "file_sha256", "people_visible", "note", "recorded_by", "recorded_at",
    ]

    static func review(_ reader: inout ObjectReader) throws(RecordError) -> PeopleReview {
        try reader.refuseUnknown(reviewFields)
        guard let people = try reader.optionalInteger("people_visible") else {
            throw RecordError(reason: "missing required field \"people_visible\" (a whole number) in the record")
        }
        let review = PeopleReview(
            id: try reader.id("id"), presentedSHA256: try reader.optionalString("presented_sha256"),
            fileSHA256: try reader.optionalString("file_sha256"), peopleVisible: people,
            note: try reader.optionalString("note"), recordedBy: try reader.optionalString("recorded_by"),
            recordedAt: try timestamp(reader, "recorded_at"))
        try review.validate()
        return review
    }
}

extension RecordWriter {
    public static func json(_ r: PeopleReview) -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [("type", .string(PeopleReview.type)), ("id", .string(r.id))]
        if let presented = r.presentedSHA256 { members.append(("presented_sha256", .string(presented))) }
        if let file = r.fileSHA256 { members.append(("file_sha256", .string(file))) }
        members.append(("people_visible", .number(Double(r.peopleVisible), isInteger: true)))
        if let note = r.note { members.append(("note", .string(note))) }
        if let by = r.recordedBy { members.append(("recorded_by", .string(by))) }
        if let at = r.recordedAt { members.append(("recorded_at", .string(Timestamp.format(at)))) }
        return Array((JSONWriter.write(.object(members)) + "\n").utf8)
    }
}
