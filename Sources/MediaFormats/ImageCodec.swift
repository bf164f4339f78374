internal import CMediaShims
import Crypto

/// Limits that keep a hostile file from taking the machine: bytes, pixels, decoder memory, scans.
public struct MediaLimits: Sendable, Equatable {
    public var maxFileBytes: Int
    public var maxPixels: UInt64
    public var maxDecoderMemoryBytes: UInt64
    public var maxProgressiveScans: UInt32

    public init(
        maxFileBytes: Int = 1 << 30, maxPixels: UInt64 = 268_435_456, maxDecoderMemoryBytes: UInt64 = 2 << 30,
        maxProgressiveScans: UInt32 = 1000
    ) {
        self.maxFileBytes = maxFileBytes
        self.maxPixels = maxPixels
        self.maxDecoderMemoryBytes = maxDecoderMemoryBytes
        self.maxProgressiveScans = maxProgressiveScans
    }

    var shim: cgshim_limits {
        cgshim_limits(max_pixels: maxPixels, max_memory_bytes: maxDecoderMemoryBytes, max_scans: maxProgressiveScans)
    }
}

/// The picture's header as the reference library (libjpeg or libpng) reads it.
public struct ImageHeader: Codable, Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var components: Int
    public var bitDepth: Int
    public var progressiveOrInterlaced: Bool
    /// Corrupt data the library worked around (0 for a clean file).
    public var warnings: Int
    public var firstWarning: String?
}

/// Calls into libjpeg and libpng through the C shim, which turns their longjmp errors into statuses.
public enum ImageCodec {
    public static func readHeader(_ format: MediaFormat, _ bytes: [UInt8], limits: MediaLimits) throws(MediaError)
        -> ImageHeader
    {
        var info = cgshim_image_info()
        var shimLimits = limits.shim
        let status: Int32 = bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .jpeg: return cgshim_jpeg_read_header(buffer.baseAddress, buffer.count, &shimLimits, &info)
            case .png: return cgshim_png_read_header(buffer.baseAddress, buffer.count, &shimLimits, &info)
            default: return -1
            }
        }
        return try header(format, status: status, info: &info)
    }

    /// Decodes the whole picture within the limits and returns its header and the SHA-256 of the pixels.
    public static func decodeDigest(_ format: MediaFormat, _ bytes: [UInt8], limits: MediaLimits) throws(MediaError)
        -> (header: ImageHeader, pixelSHA256: String)
    {
        var info = cgshim_image_info()
        var shimLimits = limits.shim
        var pixels: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        let status: Int32 = bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .jpeg:
                return cgshim_jpeg_decode(buffer.baseAddress, buffer.count, &shimLimits, &info, &pixels, &length)
            case .png: return cgshim_png_decode(buffer.baseAddress, buffer.count, &shimLimits, &info, &pixels, &length)
            default: return -1
            }
        }
        defer { cgshim_free(pixels) }
        let header = try header(format, status: status, info: &info)
        guard let pixels else { throw .malformed(format: format.rawValue, reason: "decoder returned no pixels") }
        let digest = SHA256.hash(data: UnsafeRawBufferPointer(start: pixels, count: length))
        return (header, Hex.string(digest))
    }

    private static func header(_ format: MediaFormat, status: Int32, info: inout cgshim_image_info) throws(MediaError)
        -> ImageHeader
    {
        let message = withUnsafeBytes(of: &info.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let library = format == .jpeg ? "libjpeg" : "libpng"
        switch status {
        case CGSHIM_OK:
            return ImageHeader(
                width: Int(info.width), height: Int(info.height), components: Int(info.components),
                bitDepth: Int(info.bit_depth), progressiveOrInterlaced: info.progressive != 0,
                warnings: Int(info.warnings), firstWarning: info.warnings > 0 ? message : nil)
        case CGSHIM_LIMIT:
            throw .limitExceeded(message)
        case -1:
            throw .unsupported(format.rawValue)
        default:
            throw .malformed(format: format.rawValue, reason: "\(library): \(message)")
        }
    }
}

enum Hex {
    static func string<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// SHA-256 over chosen ranges of a byte array, without copying them.
struct RangeHasher {
    private var hasher = SHA256()

    mutating func update(_ bytes: [UInt8], _ range: Range<Int>) {
        bytes.withUnsafeBytes { raw in
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: raw[range]))
        }
    }

    mutating func update(_ bytes: [UInt8]) { update(bytes, 0..<bytes.count) }

    func finalize() -> String { Hex.string(hasher.finalize()) }

    func finalizeBytes() -> [UInt8] { Array(hasher.finalize()) }

    mutating func update(_ buffer: UnsafeRawBufferPointer) { hasher.update(bufferPointer: buffer) }

    static func sha256(_ bytes: [UInt8]) -> String {
        var hasher = RangeHasher()
        hasher.update(bytes)
        return hasher.finalize()
    }
}
