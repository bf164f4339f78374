import ByteKit
import MediaFormats
import ConsentRecords
import MediaWorker
import Pipeline

/// The faces `inspect` and `check` report: how many people the detector sees and where (boxes in the upright
/// picture's pixels), or why they were not counted. Boxes and scores only: nothing that could recognise anyone.
struct FacesReport: Encodable {
    var faces: FaceReading?
    var notCounted: String?

    init(faces: FaceReading?, notCounted: String?) {
        self.faces = faces
        self.notCounted = notCounted
    }

    /// Counts the faces in a sandboxed worker (the fingerprint request, without the file hash).
    init(media: MediaService, source: FileSource, limits: MediaLimits, minFacePixels: Int) {
        do {
            let reading = try media.fingerprints(
                source.fd, limits: limits, hashFile: false, faces: FaceOptions(minFacePixels: minFacePixels))
            self.init(faces: reading.faces, notCounted: reading.facesNotCounted)
        } catch {
            self.init(faces: nil, notCounted: "the faces could not be counted: \(error)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case count, boxes, detector, smallestDetectable, width, height, frames, frameSeconds, notCounted
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let faces {
            try container.encode(faces.count, forKey: .count)
            try container.encode(faces.faces, forKey: .boxes)
            try container.encode(faces.detector, forKey: .detector)
            try container.encode(faces.smallestDetectable, forKey: .smallestDetectable)
            try container.encode(faces.width, forKey: .width)
            try container.encode(faces.height, forKey: .height)
            // A video: the frames looked at, and the time of the one the boxes are from.
            try container.encodeIfPresent(faces.frames, forKey: .frames)
            try container.encodeIfPresent(faces.frameSeconds, forKey: .frameSeconds)
        } else {
            try container.encodeNil(forKey: .count)
            try container.encode(notCounted ?? "not counted", forKey: .notCounted)
        }
    }

    /// For a person: "faces: 3 (dlib-hog-frontal; faces under 40 pixels not looked for)" and one line per box.
    var lines: [String] {
        guard let faces else { return ["faces: not counted (\(notCounted ?? "unknown"))"] }
        var lines = [
            "faces: \(faces.count) (\(faces.detector); faces under \(faces.smallestDetectable) pixels a side not counted)"
        ]
        if let frames = faces.frames {
            lines.append("  the most in one of \(frames) frames looked at (at \(faces.frameSeconds ?? 0) s)")
        }
        for (index, box) in faces.faces.enumerated() {
            lines.append(
                "  #\(index + 1) at \(box.left),\(box.top) size \(box.width)x\(box.height) score \(box.score)")
        }
        return lines
    }
}

/// `inspect --json`: the report with a `faces` object.
struct InspectWithFaces: Encodable {
    var report: InspectReport
    var faces: FacesReport

    enum CodingKeys: String, CodingKey { case faces }

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(faces, forKey: .faces)
    }
}

extension FacesReport {
    /// What the decision is given: the faces, or why they were not counted (a format without a detector falls back
    /// to the declared count; a picture the detector failed on waits for a review).
    func visible(format: MediaFormat) -> VisiblePeople {
        if let faces { return VisiblePeople(faces: faces.count) }
        return VisiblePeople(
            faces: nil, notCounted: notCounted ?? "the faces were not counted",
            fallsBackToDeclared: !FaceDetector.supports(format))
    }
}

/// `check`'s people: the faces found (boxes), the count its verdict used and its source, and who consented.
struct CheckPeople: Encodable {
    var peopleCheck: String
    var faces: FacesReport?
    var count: Int?
    var source: String?
    var review: String?
    var consented: Int?

    init(faces: FacesReport?, decision: ConsentDecision, check: PeopleCheck) {
        peopleCheck = check.mode.rawValue
        self.faces = faces
        count = decision.peopleRequired?.count
        source = decision.peopleRequired?.source.rawValue
        review = decision.peopleRequired?.reviewID
        consented = decision.peopleRequired?.consented
    }

    var lines: [String] {
        var lines = faces?.lines ?? ["faces: not looked for (people_check: declared)"]
        if let count, let source {
            lines.append(
                "people required: \(count) (\(source)\(review.map { " \($0)" } ?? "")); consented: \(consented ?? 0)")
        }
        return lines
    }
}
