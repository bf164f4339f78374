import ByteKit
internal import CMediaShims
import Crypto

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

/// Calls into libjpeg and libpng through the C shim, which turns their longjmp errors into statuses. Which library
/// reads a format is its handler's `codec`; a format without one (WebP, GIF, video) is `unsupported` here.
public enum ImageCodec {
    /// The header as the format's reference library reads it (no pixels decoded).
    public static func readHeader(_ format: MediaFormat, _ bytes: [UInt8], limits: MediaLimits) throws(MediaError)
        -> ImageHeader
    {
        guard let codec = format.handler.codec else { throw .unsupported(format.rawValue) }
        return try codec.readHeader(bytes, limits: limits)
    }

    /// Decodes the whole picture within the limits and returns its header and the SHA-256 of the pixels.
    public static func decodeDigest(_ format: MediaFormat, _ bytes: [UInt8], limits: MediaLimits) throws(MediaError)
        -> (header: ImageHeader, pixelSHA256: String)
    {
        guard let codec = format.handler.codec else { throw .unsupported(format.rawValue) }
        return try codec.decodeDigest(bytes, limits: limits)
    }

    /// One reference library's entry points in the C shim (`cgshim_jpeg_...`, `cgshim_png_...`). A format's handler
    /// names its library (`JPEGHandler.codec` is `.libjpeg`).
    struct Library: Sendable {
        typealias ReadHeader =
            @convention(c) (
                UnsafePointer<UInt8>?, Int, UnsafePointer<cgshim_limits>?, UnsafeMutablePointer<cgshim_image_info>?
            ) -> Int32
        typealias Decode =
            @convention(c) (
                UnsafePointer<UInt8>?, Int, UnsafePointer<cgshim_limits>?, UnsafeMutablePointer<cgshim_image_info>?,
                UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?
            ) -> Int32
        typealias Preview =
            @convention(c) (
                UnsafePointer<UInt8>?, Int, UnsafePointer<cgshim_limits>?, UInt32,
                UnsafeMutablePointer<cgshim_image_info>?,
                UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<UInt32>?,
                UnsafeMutablePointer<UInt32>?
            ) -> Int32

        /// The format it reads, for error messages.
        let format: MediaFormat
        /// "libjpeg", "libpng": the prefix of its error messages.
        let name: String
        let readHeaderFunction: ReadHeader
        let decodeFunction: Decode
        /// A small RGB picture at most `max_side` a side (the review page's previews).
        let previewFunction: Preview

        func readHeader(_ bytes: [UInt8], limits: MediaLimits) throws(MediaError) -> ImageHeader {
            var info = cgshim_image_info()
            var shimLimits = limits.shim
            let status = bytes.withUnsafeBufferPointer { buffer in
                readHeaderFunction(buffer.baseAddress, buffer.count, &shimLimits, &info)
            }
            return try header(status: status, info: &info)
        }

        func decodeDigest(_ bytes: [UInt8], limits: MediaLimits) throws(MediaError)
            -> (header: ImageHeader, pixelSHA256: String)
        {
            var info = cgshim_image_info()
            var shimLimits = limits.shim
            var pixels: UnsafeMutablePointer<UInt8>? = nil
            var length = 0
            let status = bytes.withUnsafeBufferPointer { buffer in
                decodeFunction(buffer.baseAddress, buffer.count, &shimLimits, &info, &pixels, &length)
            }
            defer { cgshim_free(pixels) }
            let header = try header(status: status, info: &info)
            guard let pixels else { throw .malformed(format: format.rawValue, reason: "decoder returned no pixels") }
            let digest = SHA256.hash(data: UnsafeRawBufferPointer(start: pixels, count: length))
            return (header, Hex.string(digest))
        }

        private func header(status: Int32, info: inout cgshim_image_info) throws(MediaError) -> ImageHeader {
            let message = withUnsafeBytes(of: &info.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
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
                throw .malformed(format: format.rawValue, reason: "\(name): \(message)")
            }
        }
    }
}

/// The reference libraries the shim wraps.
extension ImageCodec.Library {
    /// libjpeg, through the shim's `cgshim_jpeg_...` functions.
    static let libjpeg = ImageCodec.Library(
        format: .jpeg, name: "libjpeg", readHeaderFunction: cgshim_jpeg_read_header, decodeFunction: cgshim_jpeg_decode,
        previewFunction: cgshim_jpeg_preview)

    /// libpng, through the shim's `cgshim_png_...` functions.
    static let libpng = ImageCodec.Library(
        format: .png, name: "libpng", readHeaderFunction: cgshim_png_read_header, decodeFunction: cgshim_png_decode,
        previewFunction: cgshim_png_preview)
}
