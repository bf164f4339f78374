import Foundation
import ConsentRecords
import MediaWorker

extension VisiblePeople {
    /// What the fingerprint reader saw: the faces it counted, or why it did not count them. A format without a
    /// detector (video, WebP, GIF, HEIC/AVIF) falls back to the declared count, which the run summary says; a picture
    /// the detector failed on waits for a review.
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
