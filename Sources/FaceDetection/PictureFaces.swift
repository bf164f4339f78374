import ByteKit
internal import CVideoShim
import MediaFormats

/// The faces in a WebP or GIF picture, decoded by libavcodec from the whole file (a still GIF; an animated GIF, whose
/// later frames libavcodec does not decode from the whole file, and an animated WebP, which libavcodec 5.1 cannot
/// decode, are not counted and wait for a review), and in a HEIC, HEIF or AVIF picture's primary image, decoded by
/// libheif upright.
public enum PictureFaces {
    public static let formats: Set<MediaFormat> = [.webp, .gif, .heic, .heif, .avif]

    public static func detect(_ bytes: [UInt8], format: MediaFormat, options: FaceOptions, limits: MediaLimits)
        throws(MediaError) -> FaceReading
    {
        guard formats.contains(format) else { throw .unsupported(format.rawValue) }
        if format == .heic || format == .heif || format == .avif {
            return try heif(bytes, format: format, options: options, limits: limits)
        }
        if format == .gif {
            // Only the first frame would be looked at: a person who appears in a later one would not be counted.
            let frames = try GIFStructure(parsing: bytes).blocks.filter { $0.kind == .image }.count
            guard frames <= 1 else {
                throw .unsupported("an animated GIF (\(frames) frames): only a still GIF's faces are counted")
            }
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
        // The working size from the size the file declares (libheif reads it without decoding); the decoded,
        // upright picture is box-averaged to it in C.
        func failure(_ status: Int32, _ message: [CChar]) -> MediaError {
            let why = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return status == CGVIDEO_LIMIT ? .limitExceeded("\(format.rawValue): \(why)") : .malformed(format: format.rawValue, reason: why)
        }
        var declaredWidth: UInt32 = 0, declaredHeight: UInt32 = 0
        var sizeMessage = [CChar](repeating: 0, count: 256)
        let sized = bytes.withUnsafeBufferPointer {
            cgheif_size($0.baseAddress, $0.count, &declaredWidth, &declaredHeight, &sizeMessage, sizeMessage.count)
        }
        guard sized == CGVIDEO_OK else { throw failure(sized, sizeMessage) }
        let plan = FaceDetector.workingPlan(width: Int(declaredWidth), height: Int(declaredHeight), options: options)
        let maxDimension = UInt32(min(UInt64(UInt32.max), UInt64(Double(limits.maxPixels).squareRoot() * 4)))
        var gray: UnsafeMutablePointer<UInt8>? = nil
        var width: UInt32 = 0, height: UInt32 = 0, originalWidth: UInt32 = 0, originalHeight: UInt32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer {
            cgheif_decode_gray(
                $0.baseAddress, $0.count, UInt32(plan.decodeSide), maxDimension, &gray, &width, &height, &originalWidth,
                &originalHeight, &message, message.count)
        }
        defer { cgheif_free(gray) }
        guard status == CGVIDEO_OK, let gray else { throw failure(status, message) }
        guard UInt64(originalWidth) * UInt64(originalHeight) <= limits.maxPixels else {
            throw .limitExceeded("\(format.rawValue): \(originalWidth)x\(originalHeight) pixels, over the limit")
        }
        let picture = WorkingPicture(
            gray: Array(UnsafeBufferPointer(start: gray, count: Int(width) * Int(height))), width: Int(width),
            height: Int(height), originalWidth: Int(originalWidth), originalHeight: Int(originalHeight))
        return try FaceDetector.detect(picture, upsample: plan.upsample, options: options, format: format.rawValue)
    }
}
