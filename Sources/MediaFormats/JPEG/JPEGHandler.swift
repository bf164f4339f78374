import ByteKit
internal import CMediaShims

/// JPEG: walked by marker segments, rebuilt from an allowlist of them (`JPEGSanitizer`), read and decoded by libjpeg.
struct JPEGHandler: PictureFormatHandler {
    var format: MediaFormat { .jpeg }
    var fileExtension: String { "jpg" }
    var displayName: String? { "JPEG picture" }
    var codec: ImageCodec.Library? { .libjpeg }

    func recognizes(_ head: [UInt8]) -> Bool { head.starts(with: [0xFF, 0xD8, 0xFF]) }

    func walk(_ bytes: [UInt8]) throws(MediaError) -> JPEGStructure { try JPEGStructure(parsing: bytes) }

    func fingerprints(_ bytes: [UInt8], _ structure: JPEGStructure, options: SanitizeOptions) -> (
        presented: String, content: String
    ) {
        let content = JPEGSanitizer.contentSHA256(bytes, structure)
        return (presentedSHA256(bytes, structure, content: content, options: options), content)
    }

    func sanitize(_ bytes: [UInt8], _ structure: JPEGStructure, options: SanitizeOptions) throws(MediaError)
        -> BuiltPicture
    {
        let built = try JPEGSanitizer.sanitize(bytes, structure, options: options)
        try JPEGSanitizer.verify(
            built.output, original: bytes, originalStructure: structure, orientation: built.orientation,
            options: options)
        return built
    }

    func orientation(_ bytes: [UInt8]) -> Int? {
        (try? JPEGStructure(parsing: bytes)).flatMap { JPEGSanitizer.orientation(bytes, $0) }
    }

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

extension ImageCodec.Library {
    /// libjpeg, through the shim's `cgshim_jpeg_...` functions.
    static let libjpeg = ImageCodec.Library(
        format: .jpeg, name: "libjpeg", readHeaderFunction: cgshim_jpeg_read_header, decodeFunction: cgshim_jpeg_decode,
        previewFunction: cgshim_jpeg_preview)
}
