import ByteKit
internal import CMediaShims

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small picture for a person to look at (the privacy office's review page): decoded from the original's
/// pixels (libjpeg's scaled decode, libpng row by row), turned upright by its Orientation, and encoded again as a
/// plain JPEG. Only pixels cross over: no Exif, XMP, ICC, comment or any other marker of the original.
public struct Preview: Sendable, Equatable, Codable {
    /// A baseline JPEG: SOI, tables, frame, scan, EOI, nothing else.
    public var jpeg: [UInt8]
    public var width: Int
    public var height: Int

    /// The longest side a preview gets by default.
    public static let defaultMaxSide = 256

    /// Limits for previews: pictures a person drops, not posters (the pipeline's own limits are larger).
    /// A review page of many files stays quick: pictures over 64 MiB or 50 megapixels get a placeholder.
    public static let defaultLimits = MediaLimits(
        maxFileBytes: 64 << 20, maxPixels: 50_000_000, maxDecoderMemoryBytes: 512 << 20)

    /// Whether a preview can be made for this format at all: one with a reference library, JPEG and PNG (other formats
    /// get a placeholder).
    public static func supports(_ format: MediaFormat) -> Bool { format.handler.codec != nil }

    /// The preview of the file at `path`, never through a link, within `limits` (bytes, pixels, decoder memory).
    public static func make(path: String, maxSide: Int = defaultMaxSide, limits: MediaLimits = defaultLimits)
        throws(MediaError) -> Preview
    {
        let source = try FileSource(pathBytes: Array(path.utf8), followLinks: false)
        guard source.count <= limits.maxFileBytes else {
            throw .limitExceeded("the file is \(source.count) bytes, over the preview limit of \(limits.maxFileBytes)")
        }
        let format = MediaFormat.sniff(try source.read(0..<min(32, source.count)))
        guard supports(format) else { throw .unsupported(format.rawValue) }
        return try make(try source.read(0..<source.count), format: format, maxSide: maxSide, limits: limits)
    }

    /// The preview of a JPEG or PNG held in memory.
    public static func make(
        _ bytes: [UInt8], format: MediaFormat, maxSide: Int = defaultMaxSide, limits: MediaLimits = defaultLimits
    ) throws(MediaError) -> Preview {
        let pixels = try uprightPixels(bytes, format: format, maxSide: maxSide, limits: limits)
        return Preview(jpeg: try encode(pixels), width: pixels.width, height: pixels.height)
    }

    /// The picture decoded, box-averaged down to at most `maxSide` pixels a side and turned upright by its
    /// Orientation: what a viewer sees, as 8-bit RGB (previews, the face detector's working picture).
    static func uprightPixels(_ bytes: [UInt8], format: MediaFormat, maxSide: Int, limits: MediaLimits)
        throws(MediaError) -> Pixels
    {
        guard let codec = format.handler.codec else { throw .unsupported(format.rawValue) }
        var info = cgshim_image_info()
        var shimLimits = limits.shim
        var rgb: UnsafeMutablePointer<UInt8>? = nil
        var width: UInt32 = 0
        var height: UInt32 = 0
        let side = UInt32(clamping: max(1, maxSide))
        let status: Int32 = bytes.withUnsafeBufferPointer { buffer in
            codec.previewFunction(buffer.baseAddress, buffer.count, &shimLimits, side, &info, &rgb, &width, &height)
        }
        defer { cgshim_free(rgb) }
        try check(status, format: format, library: codec.name, info: &info)
        // Corrupt data the decoder papered over (a truncated file comes out half grey): no preview rather than a
        // misleading one.
        if info.warnings > 0 {
            let message = withUnsafeBytes(of: &info.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw .malformed(format: format.rawValue, reason: "damaged: \(message)")
        }
        guard let rgb else { throw .malformed(format: format.rawValue, reason: "the decoder returned no pixels") }
        var pixels = Pixels(
            rgb: Array(UnsafeBufferPointer(start: rgb, count: Int(width) * Int(height) * 3)), width: Int(width),
            height: Int(height))
        if let orientation = format.handler.orientation(bytes) { pixels = pixels.upright(orientation) }
        return pixels
    }

    static func encode(_ pixels: Pixels) throws(MediaError) -> [UInt8] {
        var info = cgshim_image_info()
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        let status = pixels.rgb.withUnsafeBufferPointer { buffer in
            cgshim_jpeg_encode_rgb(
                buffer.baseAddress, UInt32(pixels.width), UInt32(pixels.height), 80, &info, &out, &length)
        }
        defer { cgshim_free(out) }
        try check(status, format: .jpeg, library: "libjpeg", info: &info)
        guard let out else { throw .malformed(format: "jpeg", reason: "the encoder returned nothing") }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    private static func check(_ status: Int32, format: MediaFormat, library: String, info: inout cgshim_image_info)
        throws(MediaError)
    {
        let message = withUnsafeBytes(of: &info.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch status {
        case CGSHIM_OK: return
        case CGSHIM_LIMIT: throw .limitExceeded(message)
        default: throw .malformed(format: format.rawValue, reason: library + ": " + message)
        }
    }
}

/// 8-bit RGB pixels, row by row.
struct Pixels: Equatable {
    var rgb: [UInt8]
    var width: Int
    var height: Int

    /// The pixels as a viewer shows them for an Exif Orientation (1 to 8; anything else leaves them as they are).
    func upright(_ orientation: Int) -> Pixels {
        guard (2...8).contains(orientation) else { return self }
        let swapsSides = orientation >= 5
        let (outWidth, outHeight) = swapsSides ? (height, width) : (width, height)
        var out = [UInt8](repeating: 0, count: rgb.count)
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                let (sourceX, sourceY) = uprightSource(orientation, x: x, y: y, width: width, height: height)
                let from = (sourceY * width + sourceX) * 3
                let to = (y * outWidth + x) * 3
                out[to] = rgb[from]
                out[to + 1] = rgb[from + 1]
                out[to + 2] = rgb[from + 2]
            }
        }
        return Pixels(rgb: out, width: outWidth, height: outHeight)
    }
}

/// Where the pixel at (x, y) of a picture turned upright by its EXIF Orientation (2 to 8) lies in the stored
/// `width` x `height` picture: the one mapping for previews and the face detector's working picture.
@inline(__always)
func uprightSource(_ orientation: Int, x: Int, y: Int, width: Int, height: Int) -> (Int, Int) {
    switch orientation {
    case 2: return (width - 1 - x, y)
    case 3: return (width - 1 - x, height - 1 - y)
    case 4: return (x, height - 1 - y)
    case 5: return (y, x)
    case 6: return (y, height - 1 - x)
    case 7: return (width - 1 - y, height - 1 - x)
    default: return (width - 1 - y, x)
    }
}
