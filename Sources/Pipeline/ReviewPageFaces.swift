import Foundation

/// The review page's faces (issue #24): numbered boxes drawn over the preview of a quarantined picture, and a line
/// saying how many people were found and how many have consented.
extension ReviewPage {
    /// An SVG laid over the preview: one numbered box per face, in the picture's own coordinates (the viewBox is
    /// the upright original's size, so the boxes scale with the preview). Empty without boxes.
    static func faceOverlay(_ people: PeopleSeen?) -> String {
        guard let people, let size = people.imageSize, size[0] > 0, size[1] > 0, !people.boxes.isEmpty else {
            return ""
        }
        let stroke = max(2, max(size[0], size[1]) / 150)
        let font = max(10, max(size[0], size[1]) / 18)
        var svg = "<svg class=\"faces\" viewBox=\"0 0 \(size[0]) \(size[1])\" preserveAspectRatio=\"none\" "
        svg += "aria-label=\"\(people.boxes.count) face(s) found\">"
        for (index, box) in people.boxes.enumerated() {
            svg += "<rect x=\"\(box[0])\" y=\"\(box[1])\" width=\"\(box[2])\" height=\"\(box[3])\" "
            svg += "fill=\"none\" stroke=\"#ffd400\" stroke-width=\"\(stroke)\"/>"
            svg += "<text x=\"\(box[0] + stroke)\" y=\"\(max(font, box[1] - stroke))\" font-size=\"\(font)\" "
            svg += "fill=\"#ffd400\" stroke=\"#000\" stroke-width=\"\(max(1, stroke / 2))\" "
            svg += "paint-order=\"stroke\" font-weight=\"bold\">\(index + 1)</text>"
        }
        return svg + "</svg>"
    }

    /// "3 people found in the picture (face detector); 1 has consented." or why they were not counted.
    static func peopleLine(_ people: PeopleSeen?) -> String {
        guard let people else { return "" }
        let escape = PlainWords.html
        var text: String
        if let faces = people.faces {
            text = faces == 1 ? "1 face found in the picture" : "\(faces) faces found in the picture"
            if !people.boxes.isEmpty { text += " (numbered on the preview)" }
        } else {
            text = "The faces were not counted (\(people.notCounted ?? "unknown"))"
        }
        if let count = people.count, people.source == "review" {
            text += "; a review (\(people.review ?? "?")) says \(count) \(count == 1 ? "person" : "people")"
        } else if let count = people.count, people.source == "declared", people.faces != nil {
            text += "; the records declare \(count) \(count == 1 ? "person" : "people")"
        }
        if let consented = people.consented {
            text += "; \(consented) \(consented == 1 ? "has" : "have") consented."
        } else {
            text += "."
        }
        if people.faces != nil {
            text += " If the detector is wrong (a poster, a mirror, a face too small or turned away), a signed "
                + "review sets the count: consentgate review-record."
        }
        return "<p class=\"people\">\(escape(text))</p>\n"
    }

    static let facesStyle = """
        .preview .framed{position:relative;display:inline-block;line-height:0}
        .preview svg.faces{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
        p.people{font-weight:bold}
        """
}
