import ByteKit
import FaceDetection
import MediaFormats

/// The faces of a file the fingerprint request already reads (one worker, one read): the detector on JPEG and PNG
/// (our decoders), WebP and GIF (libavcodec), HEIC/HEIF/AVIF (libheif) and the frames of a video (libavcodec,
/// samples from our ISO-BMFF reader); for every other format the reason it was not counted.
enum FaceCount {
    static func read(_ source: FileSource, format: MediaFormat, options: FaceOptions, limits: MediaLimits)
        -> (FaceReading?, String?)
    {
        guard FaceDetector.supports(format) else {
            return (nil, "\(format.rawValue): no face detector for this format")
        }
        do {
            return (try FaceDetector.detect(source, format: format, options: options, limits: limits), nil)
        } catch {
            return (nil, "the faces could not be counted: \(error)")
        }
    }
}
