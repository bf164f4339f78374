import ByteKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How to sanitize: which optional structures to keep, whether to decode fully, and the limits.
public struct SanitizeOptions: Sendable, Equatable, Codable {
    /// Keep EXIF Orientation as a minimal EXIF block, so stripping does not turn a photo sideways.
    public var keepOrientation: Bool
    /// Keep the ICC colour profile.
    public var keepICC: Bool
    /// Decode input and output fully and require identical pixels.
    public var verifyDecode: Bool
    public var limits: MediaLimits
    /// The most hidden media a movie track may keep after trimming to what its edit list shows (a video's lead-in
    /// from the key frame before its first shown frame), in seconds; nil: 2 s (`max_hidden_lead_in_seconds`).
    public var maxHiddenLeadInSeconds: Double?

    public init(
        keepOrientation: Bool = true, keepICC: Bool = true, verifyDecode: Bool = false, limits: MediaLimits = .init(),
        maxHiddenLeadInSeconds: Double? = nil
    ) {
        self.keepOrientation = keepOrientation
        self.keepICC = keepICC
        self.verifyDecode = verifyDecode
        self.limits = limits
        self.maxHiddenLeadInSeconds = maxHiddenLeadInSeconds
    }

    /// The hidden lead-in bound in force.
    public var hiddenLeadInBound: Double { maxHiddenLeadInSeconds ?? 2 }
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
    /// The output's `presented_sha256` (default options: what a record names), computed once by the check below; nil
    /// when that check was left to the caller's independent verifier (`presentedCheckedByVerifier`).
    public var presentedSHA256: String?
}

/// Sanitizes media losslessly and verifies the result independently before anyone may write it.
/// Verification compares the coded bytes themselves (stronger than comparing their hashes) and the output's
/// `presented_sha256` with the input's.
public enum Sanitizer {
    /// Sanitizes a picture held in memory (ISO-BMFF media is sanitized from a file, `MediaFile.sanitize`): the
    /// format's handler rebuilds and verifies it, then every picture must present what it presented and, with
    /// `verifyDecode`, decode to the same pixels.
    ///
    /// `expectedPresented`: what the output must present when the caller knows it already (the input's
    /// `presented_sha256`, taken by an earlier reading, or the fingerprint a record names). With options that keep
    /// what a picture presents (ICC profile and Orientation), it replaces a second pass over the input: an output
    /// that presents it is what was asked for, and a wrong value can only make the output refused. Options that drop
    /// either change what the picture presents on purpose: the input is then fingerprinted as published with them.
    ///
    /// `presentedCheckedByVerifier`: the caller will have the output re-read by another reader that compares its
    /// `presented_sha256` with the input's, taken by a third (`MediaService.verify`): then, with options that keep
    /// what the picture presents, this check would repeat that one (a walk and a hash of the whole output) and is
    /// left to it. The format's own re-reading (coded data compared byte for byte with the input's) still runs here.
    /// Options that drop the ICC profile or Orientation are always checked here: the verifier has no value for them.
    public static func sanitize(
        _ bytes: [UInt8], options: SanitizeOptions = .init(), expectedPresented: String? = nil,
        presentedCheckedByVerifier: Bool = false
    ) throws(MediaError) -> SanitizedMedia {
        guard bytes.count <= options.limits.maxFileBytes else {
            throw .limitExceeded("file is \(bytes.count) bytes, over the limit of \(options.limits.maxFileBytes)")
        }
        let format = MediaFormat.sniff(bytes)
        let handler = format.handler
        let built = try handler.sanitize(bytes, options: options)
        // What the output presents must be what the input presents as published with these options (SPEC §4,
        // presented_sha256): an ICC profile, a gamma, an orientation lost or changed on the way is refused.
        let keepsPresentation = options.keepICC && options.keepOrientation
        var presented: String? = nil
        if !(keepsPresentation && presentedCheckedByVerifier) {
            let expected: String
            if keepsPresentation, let expectedPresented {
                expected = expectedPresented
            } else {
                expected = try handler.fingerprints(bytes, options: options).presented
            }
            let output = try handler.fingerprints(built.output, options: .init()).presented
            guard output == expected else {
                throw .verificationFailed("what the picture presents (presented_sha256) changed")
            }
            presented = output
        }
        var pixels: String? = nil
        if options.verifyDecode {
            let before = try handler.decodeDigest(bytes, limits: options.limits)
            let after = try handler.decodeDigest(built.output, limits: options.limits)
            guard before.pixelSHA256 == after.pixelSHA256 else {
                throw .verificationFailed("decoded pixels differ between input and output")
            }
            pixels = after.pixelSHA256
        }
        return SanitizedMedia(
            format: format, output: built.output, orientation: built.orientation, removed: built.removed,
            pixelSHA256: pixels, presentedSHA256: presented)
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
