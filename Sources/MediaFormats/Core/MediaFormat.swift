import ByteKit

/// A media format, detected from the file's leading bytes (never from its name).
public enum MediaFormat: String, Codable, Sendable, CaseIterable {
    case jpeg = "JPEG"
    case png = "PNG"
    case gif = "GIF"
    case webp = "WebP"
    case heic = "HEIC"
    case heif = "HEIF"
    case avif = "AVIF"
    case mp4 = "MP4"
    case mov = "MOV"
    case threeGP = "3GP"
    case tiff = "TIFF"
    case unknown = "unknown"

    /// ISO base media file formats (video and phone formats), walked in place rather than read whole.
    public var isISOBMFF: Bool { handler.readsInPlace }

    /// The extension a published copy gets, without the dot ("jpg", "mp4"): chosen by the format, so a file's
    /// name never decides what it is published as.
    public var fileExtension: String { handler.fileExtension }

    /// What a person calls such a file ("WebP picture", "video"); nil for a format ConsentGate does not publish
    /// (TIFF, unknown).
    public var displayName: String? { handler.displayName }

    /// Detects the format from the first bytes of a file: the first handler that recognises them.
    public static func sniff<C: Collection>(_ bytes: C) -> MediaFormat where C.Element == UInt8, C.Index == Int {
        let head = Array(bytes.prefix(32))
        return handlers.first { $0.recognizes(head) }?.format ?? .unknown
    }
}
