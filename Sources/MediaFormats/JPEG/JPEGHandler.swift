import ByteKit

/// JPEG: walked by marker segments, rebuilt from an allowlist of them (`JPEGSanitizer`), read and decoded by libjpeg.
struct JPEGHandler: PictureFormatHandler {
    typealias Rules = JPEGSanitizer

    var format: MediaFormat { .jpeg }
    var fileExtension: String { "jpg" }
    var displayName: String? { "JPEG picture" }
    var codec: ImageCodec.Library? { .libjpeg }

    func recognizes(_ head: [UInt8]) -> Bool { head.starts(with: [0xFF, 0xD8, 0xFF]) }

    /// `presented_sha256` of the walked picture (see `PresentedFingerprint` for the fields, README for the list).
    func presentedSHA256(_ bytes: [UInt8], _ structure: JPEGStructure, content: String, options: SanitizeOptions)
        -> String
    {
        var fields = PresentedFingerprint.Fields(coded: PresentedFingerprint.digest(content))
        if options.keepICC {
            // The profile as published (ICCProfile.published): colour tags only, so an edited description keeps the
            // match. A profile viewers ignore (broken parts) does not count; one the sanitizer refuses counts raw.
            if let profile = JPEGSanitizer.iccProfile(bytes, structure) {
                if let published = try? ICCProfile.published(profile) {
                    fields.add("icc", published)
                } else {
                    fields.add("icc-unchecked", profile)
                }
            }
        }
        if let adobe = JPEGSanitizer.adobeSegment(structure) {
            // The colour transform (0 none/CMYK, 1 YCbCr, 2 YCCK): the only field that changes decoding.
            fields.add("adobe-transform", [bytes[structure.segments[adobe].payload.lowerBound + 11]])
        }
        fields.add(
            "orientation",
            PresentedFingerprint.orientation(JPEGSanitizer.orientation(bytes, structure), options: options))
        return fields.finalize()
    }
}
