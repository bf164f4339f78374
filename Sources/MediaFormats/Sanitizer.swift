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
/// It computes no fingerprints (callers that need them use `Fingerprints`): verification compares the
/// coded bytes themselves, which is stronger than comparing their hashes.
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
            built = GIFSanitizer.sanitize(bytes, structure)
            try GIFSanitizer.verify(built.output, expectedContent: content)
        case .unknown:
            throw .unsupported("not an image or video format ConsentGate knows")
        case .tiff:
            throw .unsupported("TIFF is not a publishing format (export the picture as JPEG or PNG)")
        default:
            throw .unsupported("\(format.rawValue) is sanitized in place from a file (MediaFile), not from memory")
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
    /// Nil for formats whose coded data ConsentGate cannot yet delimit.
    public var contentSHA256: String?

    public init(format: MediaFormat, fileSHA256: String, contentSHA256: String?) {
        self.format = format
        self.fileSHA256 = fileSHA256
        self.contentSHA256 = contentSHA256
    }

    /// Computes both fingerprints; throws when the file cannot be parsed (a content fingerprint is then unknowable).
    public static func compute(_ bytes: [UInt8]) throws(MediaError) -> Fingerprints {
        guard !bytes.isEmpty else { throw .malformed(format: "file", reason: "the file is empty") }
        let format = MediaFormat.sniff(bytes)
        return Fingerprints(
            format: format, fileSHA256: RangeHasher.sha256(bytes), contentSHA256: try contentSHA256(format, bytes))
    }

    /// The format's `content_sha256` (definitions in the README and beside each format's sanitizer).
    static func contentSHA256(_ format: MediaFormat, _ bytes: [UInt8]) throws(MediaError) -> String {
        switch format {
        case .jpeg: return JPEGSanitizer.contentSHA256(bytes, try JPEGStructure(parsing: bytes))
        case .png: return PNGSanitizer.contentSHA256(bytes, try PNGStructure(parsing: bytes))
        case .webp: return WebPSanitizer.contentSHA256(bytes, try WebPStructure(parsing: bytes))
        case .gif: return GIFSanitizer.contentSHA256(bytes, try GIFStructure(parsing: bytes))
        case .unknown: throw .unsupported("not an image or video format ConsentGate knows")
        case .tiff: throw .unsupported("TIFF is not a publishing format (export the picture as JPEG or PNG)")
        default: throw .unsupported("\(format.rawValue) is fingerprinted in place from a file (MediaFile)")
        }
    }
}
