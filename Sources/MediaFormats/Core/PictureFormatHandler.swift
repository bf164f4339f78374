import ByteKit

/// A picture format read whole and handled in memory (JPEG, PNG, WebP, GIF). Each operation starts from one walk of
/// the bytes: the format's handler supplies its presentation fields and its inspection, its sanitizer (`Rules`)
/// the coded-data fingerprint, the verified rebuild and the orientation, and this extension the rest.
protocol PictureFormatHandler: MediaFormatHandler {
    /// The format's sanitizer (`JPEGSanitizer`, ...).
    associatedtype Rules: PictureRules

    /// `presented_sha256` of the walked picture as published with `options` (`PresentedFingerprint` tags the
    /// fields): `content` (definition 1's `content_sha256`) and every kept structure that changes how it looks.
    func presentedSHA256(_ bytes: [UInt8], _ structure: Rules.Structure, content: String, options: SanitizeOptions)
        -> String
    /// Lists the walked picture's structure and metadata into `report` (its `contentSHA256` is set already).
    func inspect(_ bytes: [UInt8], _ structure: Rules.Structure, into report: inout InspectReport)
}

/// What a picture format's sanitizer provides for its walked structure.
protocol PictureRules {
    /// The walked picture: its segments, chunks or blocks (`JPEGStructure`, `PNGStructure`, ...).
    associatedtype Structure: PictureStructure
    /// Definition 1's `content_sha256`: SHA-256 over the coded data only.
    static func contentSHA256(_ bytes: [UInt8], _ structure: Structure) -> String
    /// The picture rebuilt from the format's allowlist and verified by its re-reading of the output before it is
    /// returned.
    static func sanitize(_ bytes: [UInt8], _ structure: Structure, options: SanitizeOptions) throws(MediaError)
        -> BuiltPicture
    /// The EXIF Orientation a viewer applies; nil when there is none (the default: GIF has no such thing).
    static func orientation(_ bytes: [UInt8], _ structure: Structure) -> Int?
}

extension PictureRules {
    static func orientation(_ bytes: [UInt8], _ structure: Structure) -> Int? { nil }
}

/// A picture's structure, made by walking its bytes. Total: any input gives a structure or a `MediaError` that says
/// where the picture is broken.
protocol PictureStructure {
    init(parsing bytes: [UInt8]) throws(MediaError)
}

extension PictureFormatHandler {
    /// Walks `bytes` as this format.
    func walk(_ bytes: [UInt8]) throws(MediaError) -> Rules.Structure { try Rules.Structure(parsing: bytes) }

    func orientation(_ bytes: [UInt8]) -> Int? { (try? walk(bytes)).flatMap { Rules.orientation(bytes, $0) } }

    /// Both fingerprints come from this one walk and one pass over the coded data (`fingerprints` would walk and
    /// hash again; the fuzz oracle holds the two equal).
    func inspect(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        let structure = try walk(bytes)
        let content = Rules.contentSHA256(bytes, structure)
        report.legacyContentSHA256 = content
        report.presentedSHA256 = presentedSHA256(bytes, structure, content: content, options: .init())
        inspect(bytes, structure, into: &report)
    }

    func fingerprints(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> (
        presented: String, content: String
    ) {
        let structure = try walk(bytes)
        let content = Rules.contentSHA256(bytes, structure)
        return (presentedSHA256(bytes, structure, content: content, options: options), content)
    }

    func sanitize(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> BuiltPicture {
        let structure = try walk(bytes)
        // The reference library must read the header before anything is built from the picture.
        if let codec { _ = try codec.readHeader(bytes, limits: options.limits) }
        return try Rules.sanitize(bytes, structure, options: options)
    }
}
