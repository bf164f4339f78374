import ByteKit
internal import CVideoShim
import MediaFormats

/// The faces in a WebP or GIF picture, decoded by libavcodec from the whole file (GIF: its first frame; an animated
/// WebP, which libavcodec 5.1 cannot decode, is not counted and waits for a review), and in a HEIC, HEIF or AVIF
/// picture's primary image, decoded by libheif upright.
public enum PictureFaces {
    public static let formats: Set<MediaFormat> = [.webp, .gif, .heic, .heif, .avif]

    public static func detect(_ bytes: [UInt8], format: MediaFormat, options: FaceOptions, limits: MediaLimits)
        throws(MediaError) -> FaceReading
    {
        guard formats.contains(format) else { throw .unsupported(format.rawValue) }
        if format == .heic || format == .heif || format == .avif {
            return try heif(bytes, format: format, options: options, limits: limits)
        }
        let decoder = try FrameDecoder(
            codec: format == .webp ? "webp" : "gif", configuration: [], limits: limits, what: format.rawValue)
        try decoder.send(bytes, time: 0)
        var frame = try decoder.receive()
        if frame == nil {
            try decoder.send(nil, time: 0)
            frame = try decoder.receive()
        }
        guard let frame else { throw .malformed(format: format.rawValue, reason: "no picture could be decoded") }
        let plan = FaceDetector.workingPlan(width: frame.width, height: frame.height, options: options)
        let picture = try decoder.picture(
            width: frame.width, height: frame.height, maxSide: plan.decodeSide, quarterTurns: 0)
        return try FaceDetector.detect(picture, upsample: plan.upsample, options: options, format: format.rawValue)
    }

    static func heif(_ bytes: [UInt8], format: MediaFormat, options: FaceOptions, limits: MediaLimits)
        throws(MediaError) -> FaceReading
    {
        // The working size depends on the picture's size, known once libheif has read it: decoded once at the
        // budget's side for a square picture, then planned from the true size (a reduction of the reduced picture
        // when the plan asks for less).
        let budgetSide = Int(Double(max(10_000, options.maxWorkingPixels)).squareRoot() * 2)
        let maxDimension = UInt32(min(UInt64(UInt32.max), UInt64(Double(limits.maxPixels).squareRoot() * 4)))
        var gray: UnsafeMutablePointer<UInt8>? = nil
        var width: UInt32 = 0, height: UInt32 = 0, originalWidth: UInt32 = 0, originalHeight: UInt32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer {
            cgheif_decode_gray(
                $0.baseAddress, $0.count, UInt32(budgetSide), maxDimension, &gray, &width, &height, &originalWidth,
                &originalHeight, &message, message.count)
        }
        defer { cgheif_free(gray) }
        guard status == CGVIDEO_OK, let gray else {
            let why = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if status == CGVIDEO_LIMIT { throw .limitExceeded("\(format.rawValue): \(why)") }
            throw .malformed(format: format.rawValue, reason: why)
        }
        guard UInt64(originalWidth) * UInt64(originalHeight) <= limits.maxPixels else {
            throw .limitExceeded("\(format.rawValue): \(originalWidth)x\(originalHeight) pixels, over the limit")
        }
        let plan = FaceDetector.workingPlan(width: Int(originalWidth), height: Int(originalHeight), options: options)
        var picture = WorkingPicture(
            gray: Array(UnsafeBufferPointer(start: gray, count: Int(width) * Int(height))), width: Int(width),
            height: Int(height), originalWidth: Int(originalWidth), originalHeight: Int(originalHeight))
        if plan.decodeSide < max(picture.width, picture.height) { picture = picture.reduced(toSide: plan.decodeSide) }
        return try FaceDetector.detect(picture, upsample: plan.upsample, options: options, format: format.rawValue)
    }
}

extension WorkingPicture {
    /// Box-averaged so that the longer side is `side` (never enlarged).
    func reduced(toSide side: Int) -> WorkingPicture {
        let longest = max(width, height)
        guard side < longest, side > 0 else { return self }
        let w = max(1, width * side / longest), h = max(1, height * side / longest)
        var out = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            let y0 = y * height / h, y1 = max(y0 + 1, (y + 1) * height / h)
            for x in 0..<w {
                let x0 = x * width / w, x1 = max(x0 + 1, (x + 1) * width / w)
                var sum = 0
                for sy in y0..<y1 { for sx in x0..<x1 { sum += Int(gray[sy * width + sx]) } }
                let count = (y1 - y0) * (x1 - x0)
                out[y * w + x] = UInt8((sum + count / 2) / count)
            }
        }
        return WorkingPicture(
            gray: out, width: w, height: h, originalWidth: originalWidth, originalHeight: originalHeight)
    }
}
