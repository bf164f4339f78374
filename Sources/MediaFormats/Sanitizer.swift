#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How to sanitize: which optional structures to keep, whether to decode fully, and the limits.
public struct SanitizeOptions: Sendable, Equatable {
    /// Keep EXIF Orientation as a minimal EXIF block, so stripping does not turn a photo sideways.
    public var keepOrientation: Bool
    /// Keep the ICC colour profile.
    public var keepICC: Bool
    /// Decode input and output fully and require identical pixels.
    public var verifyDecode: Bool
    public var limits: MediaLimits

    public init(
        keepOrientation: Bool = true, keepICC: Bool = true, verifyDecode: Bool = false, limits: MediaLimits = .init()
    ) {
        self.keepOrientation = keepOrientation
        self.keepICC = keepICC
        self.verifyDecode = verifyDecode
        self.limits = limits
    }
}

/// A sanitized file, verified, ready to be written.
public struct SanitizedMedia: Sendable {
    public var format: MediaFormat
    public var output: [UInt8]
    /// IFD0 Orientation written into the output, if any.
    public var orientation: Int?
    /// What was dropped, one line each (structure names and offsets, never values).
    public var removed: [String]
    /// SHA-256 of the decoded pixels (input and output agree), with `verifyDecode`.
    public var pixelSHA256: String?
}

/// Sanitizes media losslessly and verifies the result independently before anyone may write it.
/// Verification compares the coded bytes themselves (stronger than comparing their hashes) and the output's
/// `presented_sha256` with the input's.
public enum Sanitizer {
    public static func sanitize(_ bytes: [UInt8], options: SanitizeOptions = .init()) throws(MediaError)
        -> SanitizedMedia
    {
        guard bytes.count <= options.limits.maxFileBytes else {
            throw .limitExceeded("file is \(bytes.count) bytes, over the limit of \(options.limits.maxFileBytes)")
        }
        let format = MediaFormat.sniff(bytes)
        let built: (output: [UInt8], orientation: Int?, removed: [String])
        switch format {
        case .jpeg:
            let structure = try JPEGStructure(parsing: bytes)
            _ = try ImageCodec.readHeader(.jpeg, bytes, limits: options.limits)
            built = try JPEGSanitizer.sanitize(bytes, structure, options: options)
            try JPEGSanitizer.verify(
                built.output, original: bytes, originalStructure: structure, orientation: built.orientation,
                options: options)
        case .png:
            let structure = try PNGStructure(parsing: bytes)
            _ = try ImageCodec.readHeader(.png, bytes, limits: options.limits)
            built = try PNGSanitizer.sanitize(bytes, structure, options: options)
            try PNGSanitizer.verify(
                built.output, original: bytes, originalStructure: structure, orientation: built.orientation,
                options: options)
        case .webp:
            let structure = try WebPStructure(parsing: bytes)
            let content = WebPSanitizer.contentSHA256(bytes, structure)
            built = try WebPSanitizer.sanitize(bytes, structure, options: options)
            try WebPSanitizer.verify(
                built.output, expectedContent: content, orientation: built.orientation, options: options)
        case .gif:
            let structure = try GIFStructure(parsing: bytes)
            let content = GIFSanitizer.contentSHA256(bytes, structure)
            built = try GIFSanitizer.sanitize(bytes, structure)
            try GIFSanitizer.verify(built.output, expectedContent: content)
        case .unknown:
            throw .unsupported("not an image or video format ConsentGate knows")
        case .tiff:
            throw .unsupported("TIFF is not a publishing format (export the picture as JPEG or PNG)")
        default:
            throw .unsupported("\(format.rawValue) is sanitized in place from a file (MediaFile), not from memory")
        }
        // What the output presents must be what the input presents as published with these options (SPEC §4,
        // presented_sha256): an ICC profile, a gamma, an orientation lost or changed on the way is refused.
        let expected = try PresentedFingerprint.pictureValues(format, bytes, options: options).presented
        guard try PresentedFingerprint.pictureValues(format, built.output).presented == expected else {
            throw .verificationFailed("what the picture presents (presented_sha256) changed")
        }
        if options.verifyDecode && (format == .webp || format == .gif) {
            // No listed library decodes these formats; fail closed rather than skip the check asked for.
            throw .unsupported(
                "\(format.rawValue) cannot be fully decoded here (verify_decode needs libjpeg or libpng)")
        }
        var pixels: String? = nil
        if options.verifyDecode {
            let before = try ImageCodec.decodeDigest(format, bytes, limits: options.limits)
            let after = try ImageCodec.decodeDigest(format, built.output, limits: options.limits)
            guard before.pixelSHA256 == after.pixelSHA256 else {
                throw .verificationFailed("decoded pixels differ between input and output")
            }
            pixels = after.pixelSHA256
        }
        return SanitizedMedia(
            format: format, output: built.output, orientation: built.orientation, removed: built.removed,
            pixelSHA256: pixels)
    }
}

/// Compares two lists of byte ranges as one byte sequence each, range boundaries included.
enum CodedData {
    static func equal(_ a: [UInt8], _ aRanges: [Range<Int>], _ b: [UInt8], _ bRanges: [Range<Int>]) -> Bool {
        guard aRanges.count == bRanges.count else { return false }
        for (left, right) in zip(aRanges, bRanges) {
            guard left.count == right.count else { return false }
            let same = a.withUnsafeBytes { pa in
                b.withUnsafeBytes { pb in
                    memcmp(pa.baseAddress! + left.lowerBound, pb.baseAddress! + right.lowerBound, left.count) == 0
                }
            }
            if !same { return false }
        }
        return true
    }
}

/// The two fingerprints of SPEC §4.
public func sha256Hex(_ bytes: [UInt8]) -> String { RangeHasher.sha256(bytes) }

public struct Fingerprints: Codable, Sendable, Equatable {
    public var format: MediaFormat
    public var fileSHA256: String
    /// `presented_sha256` (definition 2): the coded data and everything kept that changes what a viewer sees or
    /// hears (`PresentedFingerprint`, `ISOMedia.presentation`). What records name and the decision matches.
    public var presentedSHA256: String?
    /// `content_sha256` under its old definition (1: coded data only). Records that name a picture only by it were
    /// signed against a fingerprint blind to edit lists, crops and colour: they match nothing any more, and this
    /// value only lets `check` tell which old record to re-record.
    public var legacyContentSHA256: String?

    public init(format: MediaFormat, fileSHA256: String, presentedSHA256: String?, legacyContentSHA256: String?) {
        self.format = format
        self.fileSHA256 = fileSHA256
        self.presentedSHA256 = presentedSHA256
        self.legacyContentSHA256 = legacyContentSHA256
    }

    /// The name callers used before definition 2; it is the presented fingerprint now.
    @available(*, deprecated, renamed: "presentedSHA256")
    public var contentSHA256: String? {
        get { presentedSHA256 }
        set { presentedSHA256 = newValue }
    }

    @available(*, deprecated, renamed: "init(format:fileSHA256:presentedSHA256:legacyContentSHA256:)")
    public init(format: MediaFormat, fileSHA256: String, contentSHA256: String?) {
        self.init(format: format, fileSHA256: fileSHA256, presentedSHA256: contentSHA256, legacyContentSHA256: nil)
    }

    /// Computes the fingerprints; throws when the file cannot be parsed (a content fingerprint is then unknowable).
    public static func compute(_ bytes: [UInt8]) throws(MediaError) -> Fingerprints {
        guard !bytes.isEmpty else { throw .malformed(format: "file", reason: "the file is empty") }
        let format = MediaFormat.sniff(bytes)
        let values = try PresentedFingerprint.pictureValues(format, bytes)
        return Fingerprints(
            format: format, fileSHA256: RangeHasher.sha256(bytes), presentedSHA256: values.presented,
            legacyContentSHA256: values.content)
    }
}
