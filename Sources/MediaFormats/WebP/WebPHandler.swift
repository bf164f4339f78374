import ByteKit

/// WebP: walked by RIFF chunks, rebuilt from its image chunks (`WebPSanitizer`). No library of ours decodes it, so
/// the decode check is refused.
struct WebPHandler: PictureFormatHandler {
    typealias Rules = WebPSanitizer

    var format: MediaFormat { .webp }
    var fileExtension: String { "webp" }
    var displayName: String? { "WebP picture" }

    func recognizes(_ head: [UInt8]) -> Bool {
        head.starts(with: Array("RIFF".utf8)) && head.count >= 12 && head[8..<12].elementsEqual(Array("WEBP".utf8))
    }

    /// `presented_sha256` of the walked picture (see `PresentedFingerprint` for the fields, README for the list).
    func presentedSHA256(_ bytes: [UInt8], _ structure: WebPStructure, content: String, options: SanitizeOptions)
        -> String
    {
        var fields = PresentedFingerprint.Fields(coded: PresentedFingerprint.digest(content))
        // Simple (VP8/VP8L-only) files carry neither a profile nor an orientation the sanitizer keeps.
        var value: Int? = nil
        if let vp8x = structure.chunks.first(where: { $0.fourCC == "VP8X" }), vp8x.payload.count >= 10 {
            fields.add("canvas", bytes[(vp8x.payload.lowerBound + 4)..<(vp8x.payload.lowerBound + 10)])
            if options.keepICC, let icc = structure.chunks.first(where: { $0.fourCC == "ICCP" }) {
                if let published = try? ICCProfile.published(Array(bytes[icc.payload])) {
                    fields.add("icc", published)
                } else {
                    fields.add("icc-unchecked", bytes[icc.payload])
                }
            }
            value = WebPSanitizer.orientation(bytes, structure)
        }
        fields.add("orientation", PresentedFingerprint.orientation(value, options: options))
        return fields.finalize()
    }
}
