import ByteKit
import FaceDetection
import Foundation
import MediaFormats

/// What crosses the socket between the pipeline and a media worker: small Codable values, never file names. The
/// files themselves cross as descriptors.
enum MediaWire {
    static let fingerprints = "media.fingerprints"
    static let sanitize = "media.sanitize"
    static let verify = "media.verify"
    static let inspect = "media.inspect"
    static let preview = "media.preview"

    struct Limits: Codable { var limits: MediaLimits }

    struct FingerprintRequest: Codable {
        var limits: MediaLimits
        /// False: a picture's `file_sha256` is not wanted (left empty), one pass fewer.
        var hashFile: Bool
        /// Also count the faces (the consent check's people count), in the same worker that reads the file.
        var faces: FaceOptions? = nil
    }

    struct SanitizeRequest: Codable {
        var options: SanitizeOptions
        var knownContent: String?
        /// The caller has the copy verified by another worker against the input's presented fingerprint.
        var presentedCheckedByVerifier: Bool
    }

    struct VerifyRequest: Codable {
        var options: SanitizeOptions
        /// Nil when the caller changed the presentation on purpose (options that drop the ICC profile or the
        /// Orientation: then the writer compared the presentation of a picture; a video or HEIF copy is refused), or
        /// with `callerCompares`.
        var expectedPresented: String?
        /// The original's size, for formats whose copies keep it (video, HEIF).
        var expectedSize: Int?
        /// The caller compares the returned fingerprint with the original's itself (`MediaService.verifyReporting`).
        var callerCompares: Bool
    }

    /// The verifier's answer: the copy passed, and what it presents (for a caller that compares it itself).
    struct VerifyReading: Codable { var presentedSHA256: String }

    struct PreviewRequest: Codable { var maxSide: Int }
}

/// A file's format and fingerprints, as a worker read them. `fingerprints.presentedSHA256` is nil when the file could
/// not be parsed (then only `fileSHA256` is known, and `parseError` says why).
public struct FingerprintReading: Codable, Sendable {
    public var format: MediaFormat
    public var size: Int
    public var fingerprints: Fingerprints
    public var parseError: String?
    /// The faces found, when they were asked for and could be looked for.
    public var faces: FaceReading? = nil
    /// Why the faces were asked for and not counted (a format without a pixel decoder here, a picture the detector
    /// could not read): the caller decides what that means.
    public var facesNotCounted: String? = nil
}

/// What sanitizing reported: what was dropped and kept, never the bytes.
public struct SanitizeReading: Codable, Sendable {
    public var format: MediaFormat
    public var orientation: Int?
    public var removed: [String]
    public var pixelSHA256: String?
}

/// A `MediaError` as it crosses the socket: the case and its words, so the caller sees exactly what the worker saw.
struct WireMediaError: Codable, Error {
    var kind: String
    var first: String
    var second: String

    init(_ error: MediaError) {
        switch error {
        case .unsupported(let why): (kind, first, second) = ("unsupported", why, "")
        case .malformed(let format, let reason): (kind, first, second) = ("malformed", format, reason)
        case .limitExceeded(let why): (kind, first, second) = ("limit", why, "")
        case .io(let why): (kind, first, second) = ("io", why, "")
        case .verificationFailed(let why): (kind, first, second) = ("verification", why, "")
        }
    }

    var mediaError: MediaError {
        switch kind {
        case "unsupported": return .unsupported(first)
        case "malformed": return .malformed(format: first, reason: second)
        case "limit": return .limitExceeded(first)
        case "io": return .io(first)
        default: return .verificationFailed(first)
        }
    }
}

/// Every reply: the value, or the media error the operation ended with (an ordinary refusal, not a worker failure).
enum WireResult<Value: Codable>: Codable {
    case ok(Value)
    case refused(WireMediaError)
}
