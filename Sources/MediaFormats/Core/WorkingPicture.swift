import ByteKit
internal import CMediaShims

/// A picture as a viewer sees it (upright), in grey, at a bounded working size: what the face detector reads. Only
/// pixels: nothing of the original's metadata.
public struct WorkingPicture: Sendable {
    /// 8-bit grey, row by row.
    public var gray: [UInt8]
    public var width: Int
    public var height: Int
    /// The upright size of the original picture (its longest side over `width`/`height`'s is the scale).
    public var originalWidth: Int
    public var originalHeight: Int

    public init(gray: [UInt8], width: Int, height: Int, originalWidth: Int, originalHeight: Int) {
        self.gray = gray
        self.width = width
        self.height = height
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
    }

    /// Decodes a JPEG or PNG to at most `maxSide` pixels a side (libjpeg's scaled decode or libpng row by row, box
    /// averaged), upright by its Orientation, within `limits`. A picture the decoder had to paper over is refused.
    /// A YCbCr or grey JPEG's luma is decoded alone (`jpegLuma`); other pictures through the preview's RGB.
    public static func decode(_ bytes: [UInt8], format: MediaFormat, maxSide: Int, limits: MediaLimits)
        throws(MediaError) -> WorkingPicture
    {
        let header = try ImageCodec.readHeader(format, bytes, limits: limits)
        if format == .jpeg, let luma = try jpegLuma(bytes, maxSide: maxSide, limits: limits) {
            let orientation = format.handler.orientation(bytes) ?? 1
            let picture = luma.upright(orientation)
            let swapped = (5...8).contains(orientation)
            return WorkingPicture(
                gray: picture.gray, width: picture.width, height: picture.height,
                originalWidth: swapped ? header.height : header.width,
                originalHeight: swapped ? header.width : header.height)
        }
        return try decodeRGB(bytes, format: format, header: header, maxSide: maxSide, limits: limits)
    }

    /// The luma of a YCbCr or grey JPEG, as stored (not yet upright), at most `maxSide` a side: libjpeg decodes only
    /// the luma, at the preview's scale (1/2, 1/4 or 1/8, keeping `maxSide`), and skips the chroma and the colour
    /// conversion (`cgshim_jpeg_gray`). Nil for a JPEG without a luma (RGB, CMYK, YCCK): the RGB path takes those.
    static func jpegLuma(_ bytes: [UInt8], maxSide: Int, limits: MediaLimits) throws(MediaError) -> WorkingPicture? {
        var info = cgshim_image_info()
        var shimLimits = limits.shim
        var gray: UnsafeMutablePointer<UInt8>? = nil
        var width: UInt32 = 0
        var height: UInt32 = 0
        let status: Int32 = bytes.withUnsafeBufferPointer { buffer in
            cgshim_jpeg_gray(
                buffer.baseAddress, buffer.count, &shimLimits, UInt32(clamping: max(1, maxSide)), &info, &gray, &width,
                &height)
        }
        defer { cgshim_free(gray) }
        if status == CGSHIM_UNSUPPORTED { return nil }
        let message = withUnsafeBytes(of: &info.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch status {
        case CGSHIM_OK: break
        case CGSHIM_LIMIT: throw .limitExceeded(message)
        default: throw .malformed(format: "jpeg", reason: "libjpeg: " + message)
        }
        // Corrupt data the decoder papered over: not counted, as on the RGB path.
        if info.warnings > 0 { throw .malformed(format: "jpeg", reason: "damaged: \(message)") }
        guard let gray else { throw .malformed(format: "jpeg", reason: "the decoder returned no pixels") }
        let count = Int(width) * Int(height)
        return WorkingPicture(
            gray: Array(UnsafeBufferPointer(start: gray, count: count)), width: Int(width), height: Int(height),
            originalWidth: Int(width), originalHeight: Int(height))
    }

    /// The picture through the preview's RGB decode, its luma computed from the RGB.
    static func decodeRGB(
        _ bytes: [UInt8], format: MediaFormat, header: ImageHeader, maxSide: Int, limits: MediaLimits
    ) throws(MediaError) -> WorkingPicture {
        let pixels = try Preview.uprightPixels(bytes, format: format, maxSide: maxSide, limits: limits)
        // The box average keeps the aspect ratio: the longer working side tells whether the sides swapped.
        let swapped = (pixels.width > pixels.height) != (header.width > header.height) && header.width != header.height
        let (originalWidth, originalHeight) = swapped ? (header.height, header.width) : (header.width, header.height)
        var gray = [UInt8](repeating: 0, count: pixels.width * pixels.height)
        pixels.rgb.withUnsafeBufferPointer { rgb in
            gray.withUnsafeMutableBufferPointer { out in
                for index in 0..<out.count {
                    let r = Int(rgb[index * 3]), g = Int(rgb[index * 3 + 1]), b = Int(rgb[index * 3 + 2])
                    out[index] = UInt8((r * 299 + g * 587 + b * 114 + 500) / 1000)
                }
            }
        }
        return WorkingPicture(
            gray: gray, width: pixels.width, height: pixels.height, originalWidth: originalWidth,
            originalHeight: originalHeight)
    }

    /// The grey pixels as a viewer shows them for an Exif Orientation (1 to 8; anything else leaves them as they are),
    /// as `Pixels.upright` turns RGB.
    func upright(_ orientation: Int) -> WorkingPicture {
        guard (2...8).contains(orientation) else { return self }
        let swapsSides = orientation >= 5
        let (outWidth, outHeight) = swapsSides ? (height, width) : (width, height)
        var out = [UInt8](repeating: 0, count: gray.count)
        gray.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sourceX, sourceY) = uprightSource(orientation, x: x, y: y, width: width, height: height)
                        target[y * outWidth + x] = source[sourceY * width + sourceX]
                    }
                }
            }
        }
        return WorkingPicture(
            gray: out, width: outWidth, height: outHeight, originalWidth: swapsSides ? originalHeight : originalWidth,
            originalHeight: swapsSides ? originalWidth : originalHeight)
    }

    /// Original pixels per working pixel (1 when the picture was not reduced).
    public var scale: Double {
        Double(max(originalWidth, originalHeight)) / Double(max(1, max(width, height)))
    }
}
