import FaceDetection
import Foundation
import Yams

/// How the pipeline knows how many people a picture shows (issue #24): `people_check: faces` (the default) counts
/// the faces with the detector in the worker that reads the file; `declared` keeps the older rule (only the
/// `people_in_frame` records declare), and every run summary says so.
public struct PeopleCheck: Sendable, Equatable {
    public enum Mode: String, Sendable { case faces, declared }
    public var mode: Mode = .faces
    /// `min_face_pixels`: a face smaller than this (its box's longer side, in the picture's pixels) is not counted.
    public var minFacePixels = FaceOptions.defaultMinFacePixels

    public init(mode: Mode = .faces, minFacePixels: Int = FaceOptions.defaultMinFacePixels) {
        self.mode = mode
        self.minFacePixels = minFacePixels
    }

    /// The line every run summary carries.
    public var summary: String {
        switch mode {
        case .faces:
            return "people_check: faces (min_face_pixels \(minFacePixels)); pictures and videos (about one frame a "
                + "second, at most \(VideoFaces.maxFrames)) are looked at"
        case .declared:
            return "people_check: declared: only the people_in_frame that records declare are counted; "
                + "faces are not looked for"
        }
    }

    /// What the fingerprint request asks the worker for (nil: no face is counted).
    public var faceOptions: FaceOptions? {
        mode == .faces ? FaceOptions(minFacePixels: minFacePixels) : nil
    }
}

extension PipelineConfig {
    mutating func parsePeople(_ top: [String: Node], fail: (String) -> PipelineError) throws(PipelineError) {
        if let node = top["people_check"] {
            guard let text = node.scalar?.string, let mode = PeopleCheck.Mode(rawValue: text) else {
                throw fail("people_check must be faces or declared")
            }
            people.mode = mode
        }
        if let node = top["min_face_pixels"] {
            guard let pixels = node.scalar.flatMap({ Int($0.string) }), (20...4096).contains(pixels) else {
                throw fail("min_face_pixels must be a whole number of pixels (20 to 4096)")
            }
            people.minFacePixels = pixels
        }
    }
}
