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
    public var isISOBMFF: Bool { [.mp4, .mov, .threeGP, .heic, .heif, .avif].contains(self) }

    /// Detects the format from the first bytes of a file.
    public static func sniff<C: Collection>(_ bytes: C) -> MediaFormat where C.Element == UInt8, C.Index == Int {
        let head = Array(bytes.prefix(32))
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + prefix.count && Array(head[offset..<offset + prefix.count]) == prefix
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(Array("ftyp".utf8), at: 4), head.count >= 12 {
            let brand = String(decoding: head[8..<12], as: UTF8.self)
            switch brand {
            case "heic", "heix", "heim", "heis", "hevc", "hevx": return .heic
            case "avif", "avis": return .avif
            case "mif1", "msf1", "miaf": return .heif
            case "qt  ": return .mov
            default:
                if brand.hasPrefix("3g") { return .threeGP }
                return .mp4
            }
        }
        for box in ["moov", "mdat", "wide", "free", "skip", "pnot"] where starts(Array(box.utf8), at: 4) {
            return .mov
        }
        return .unknown
    }
}
