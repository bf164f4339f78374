import Foundation
import ConsentRecords
import MediaWorker

extension VisiblePeople {
    /// What the fingerprint reader saw: the faces it counted, or why it did not count them. A format without a
    /// detector falls back to the declared count, which the run summary says; a picture or video the detector
    /// failed on waits for a review.
    init(_ reading: FingerprintReading) {
        if let faces = reading.faces {
            self.init(faces: faces.count)
        } else {
            let why = reading.facesNotCounted ?? "the faces were not counted"
            self.init(faces: nil, notCounted: why, fallsBackToDeclared: !FaceDetector.supports(reading.format))
        }
    }
}

extension Processed {
    /// What the ledger keeps of the people in it (quarantine and publication events): the faces the detector
    /// found and their boxes (where, never who), why they were not counted, and the count the decision used with its
    /// source (detector, review or declared). Empty with `people_check: declared`.
    var peopleDetail: [String: Any] {
        var detail: [String: Any] = [:]
        if let visible {
            detail["faces"] = visible.faces.map { $0 as Any } ?? NSNull()
            if let why = visible.notCounted { detail["not_counted"] = why }
            detail["declared_fallback"] = visible.fallsBackToDeclared
        }
        if let reading = faces {
            detail["boxes"] = reading.faces.map { [$0.left, $0.top, $0.width, $0.height] }
            detail["image_size"] = [reading.width, reading.height]
        }
        if let people = decision?.peopleRequired {
            detail["count"] = people.count.map { $0 as Any } ?? NSNull()
            detail["source"] = people.source.rawValue
            if let review = people.reviewID { detail["review"] = review }
            if let consented = people.consented { detail["consented"] = consented }
        }
        return detail
    }
}

extension QuarantineState {
    /// The people seen in a quarantined picture when it was quarantined (its ledger event), for deciding its release
    /// without reading it again; nil with `people_check: declared` or when the event kept none.
    static func visiblePeople(ledger: any LedgerStore, asset: String, config: PipelineConfig) throws(PipelineError)
        -> VisiblePeople?
    {
        guard config.people.mode == .faces,
            let event = try ledger.lastEvent(asset: asset, kinds: [.quarantined]),
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any],
            let people = detail["people"] as? [String: Any], people["faces"] != nil || people["not_counted"] != nil
        else { return nil }
        return VisiblePeople(
            faces: people["faces"] as? Int, notCounted: people["not_counted"] as? String,
            fallsBackToDeclared: people["declared_fallback"] as? Bool ?? false)
    }
}

/// What the ledger kept of the people in a quarantined picture (`quarantine list --json`, the review page).
public struct PeopleSeen: Sendable, Encodable, Equatable {
    /// Faces the detector found (nil: not counted; `notCounted` says why).
    public var faces: Int?
    public var notCounted: String?
    /// Each face's box `[left, top, width, height]` in the upright picture's pixels, and that picture's size.
    public var boxes: [[Int]]
    public var imageSize: [Int]?
    /// The count the decision used, its source (detector, review, declared) and the subjects who consented.
    public var count: Int?
    public var source: String?
    public var review: String?
    public var consented: Int?

    init?(detail: [String: Any]) {
        guard let people = detail["people"] as? [String: Any], !people.isEmpty else { return nil }
        faces = people["faces"] as? Int
        notCounted = people["not_counted"] as? String
        boxes = (people["boxes"] as? [[Int]] ?? []).filter { $0.count == 4 }
        imageSize = (people["image_size"] as? [Int]).flatMap { $0.count == 2 ? $0 : nil }
        count = people["count"] as? Int
        source = people["source"] as? String
        review = people["review"] as? String
        consented = people["consented"] as? Int
    }

    /// The people in the last quarantine event of `asset`.
    static func last(ledger: any LedgerStore, asset: String) -> PeopleSeen? {
        guard let event = try? ledger.lastEvent(asset: asset, kinds: [.quarantined]),
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any]
        else { return nil }
        return PeopleSeen(detail: detail)
    }
}

extension PeopleSeen {
    init?(people: [String: Any]) { self.init(detail: ["people": people]) }

    /// The audit report's words: "3 people (detector)", "1 person (review REV-1)", "1 person (declared; TIFF:
    /// no face detector for this format)".
    var auditWords: String? {
        guard let count, let source else { return notCounted.map { "people not counted: \($0)" } }
        var words = "\(count) \(count == 1 ? "person" : "people") (\(source)"
        if let review { words += " \(review)" }
        if let faces, source != "detector" { words += "; \(faces) face\(faces == 1 ? "" : "s") found" }
        if let notCounted { words += "; \(notCounted)" }
        return words + ")"
    }
}

extension QuarantineEntry {
    /// The faces counted when it was quarantined, for explaining who is missing (the office's cards, the review
    /// page): nil when none were counted (`people_check: declared`, a format without a detector).
    public var visiblePeople: VisiblePeople? {
        guard let faces = people?.faces else { return nil }
        return VisiblePeople(faces: faces)
    }
}
