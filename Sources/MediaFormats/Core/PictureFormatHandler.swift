import ByteKit

/// A picture format read whole and handled in memory (JPEG, PNG, WebP, GIF). Each operation starts from one walk
/// of the bytes (`walk`): the format supplies what it does with the walked structure, this extension the rest.
protocol PictureFormatHandler: MediaFormatHandler {
    /// The walked picture: its segments, chunks or blocks (`JPEGStructure`, `PNGStructure`, ...).
    associatedtype Structure

    /// Walks `bytes` as this format. Total: any input gives a structure or a `MediaError` that says where.
    func walk(_ bytes: [UInt8]) throws(MediaError) -> Structure
    /// Lists the walked picture's structure and metadata into `report`, and sets its legacy `contentSHA256`.
    func inspect(_ bytes: [UInt8], _ structure: Structure, into report: inout InspectReport)
    /// `presented_sha256` (with `options`) and the legacy `content_sha256` of the walked picture.
    func fingerprints(_ bytes: [UInt8], _ structure: Structure, options: SanitizeOptions) -> (
        presented: String, content: String
    )
    /// The walked picture rebuilt from its allowlist, and verified by this format's re-reading of the output.
    func sanitize(_ bytes: [UInt8], _ structure: Structure, options: SanitizeOptions) throws(MediaError)
        -> BuiltPicture
}

extension PictureFormatHandler {
    func inspect(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        inspect(bytes, try walk(bytes), into: &report)
    }

    func fingerprints(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> (
        presented: String, content: String
    ) {
        fingerprints(bytes, try walk(bytes), options: options)
    }

    func sanitize(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> BuiltPicture {
        let structure = try walk(bytes)
        // The reference library must read the header before anything is built from the picture.
        if let codec { _ = try codec.readHeader(bytes, limits: options.limits) }
        return try sanitize(bytes, structure, options: options)
    }
}
