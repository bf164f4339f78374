import ByteKit
import FaceDetection
import MediaFormats

/// The faces of a file the fingerprint request already reads (one worker, one read): the detector on JPEG and PNG,
/// and for every other format the reason it was not counted.
enum FaceCount {
    static func read(_ source: FileSource, format: MediaFormat, options: FaceOptions, limits: MediaLimits)
        -> (FaceReading?, String?)
    {
        guard FaceDetector.supports(format) else {
            return (nil, [.mp4, .mov, .threeGP].contains(format) ? "videos: declared count only" : "\(format.rawValue): no face detector for this format")
        }
        do {
            let bytes = try source.read(0..<source.count)
            return (try FaceDetector.detect(bytes, format: format, options: options, limits: limits), nil)
        } catch {
            return (nil, "the faces could not be counted: \(error)")
        }
    }
}
