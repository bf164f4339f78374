import ByteKit

/// A picture format read whole and handled in memory (JPEG, PNG, WebP, GIF). Each operation starts from one walk
/// of the bytes (`walk`): the format supplies what it does with the walked structure, this extension the rest.
protocol PictureFormatHandler: MediaFormatHandler {
    /// The walked picture: its segments, chunks or blocks (`JPEGStructure`, `PNGStructure`, ...).
    associatedtype Structure: PictureStructure
    /// Definition 1's `content_sha256` of the walked picture: SHA-256 over its coded data only.
    func contentSHA256(_ bytes: [UInt8], _ structure: Structure) -> String
    /// `presented_sha256` of the walked picture as published with `options` (`PresentedFingerprint` tags the
    /// fields): `content` and every kept structure that changes how it looks.
    func presentedSHA256(_ bytes: [UInt8], _ structure: Structure, content: String, options: SanitizeOptions) -> String
    /// Lists the walked picture's structure and metadata into `report` (its `contentSHA256` is set already).
    func inspect(_ bytes: [UInt8], _ structure: Structure, into report: inout InspectReport)
    /// The EXIF Orientation of the walked picture; nil when it has none (the default: GIF has no such thing).
    func orientation(_ bytes: [UInt8], _ structure: Structure) -> Int?
    /// The walked picture rebuilt from its allowlist, and verified by this format's re-reading of the output (the
    /// format's sanitizer verifies before it returns).
    func sanitize(_ bytes: [UInt8], _ structure: Structure, options: SanitizeOptions) throws(MediaError)
        -> BuiltPicture
}

/// A picture's structure, made by walking its bytes. Total: any input gives a structure or a `MediaError` that says
/// where the picture is broken.
protocol PictureStructure {
    init(parsing bytes: [UInt8]) throws(MediaError)
}

extension PictureFormatHandler {
    /// Walks `bytes` as this format.
    func walk(_ bytes: [UInt8]) throws(MediaError) -> Structure { try Structure(parsing: bytes) }

    func orientation(_ bytes: [UInt8], _ structure: Structure) -> Int? { nil }

    func orientation(_ bytes: [UInt8]) -> Int? { (try? walk(bytes)).flatMap { orientation(bytes, $0) } }

    func inspect(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        let structure = try walk(bytes)
        report.contentSHA256 = contentSHA256(bytes, structure)
        inspect(bytes, structure, into: &report)
    }

    func fingerprints(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> (
        presented: String, content: String
    ) {
        let structure = try walk(bytes)
        let content = contentSHA256(bytes, structure)
        return (presentedSHA256(bytes, structure, content: content, options: options), content)
    }

    func sanitize(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> BuiltPicture {
        let structure = try walk(bytes)
        // The reference library must read the header before anything is built from the picture.
        if let codec { _ = try codec.readHeader(bytes, limits: options.limits) }
        return try sanitize(bytes, structure, options: options)
    }
}
