import ByteKit

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
    public static func decode(_ bytes: [UInt8], format: MediaFormat, maxSide: Int, limits: MediaLimits)
        throws(MediaError) -> WorkingPicture
    {
        let header = try ImageCodec.readHeader(format, bytes, limits: limits)
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

    /// Original pixels per working pixel (1 when the picture was not reduced).
    public var scale: Double {
        Double(max(originalWidth, originalHeight)) / Double(max(1, max(width, height)))
    }
}
