import ByteKit
import MediaFormats

/// The faces in a video (issue 24): frames about one a second over the presented duration (at most `maxFrames`,
/// spread evenly when there are more seconds), each looked at as a picture (the same working size and
/// `min_face_pixels`). F is the most faces seen in any one frame: two people are two only if they are ever seen
/// together, and a second face that appears after some seconds is in the frames from then on.
///
/// Every needed sample is decoded in order, from the key frame the presented frames start from (`VideoSamples`: our
/// ISO-BMFF reader, never libavformat), since a person who walks in between two key frames is only in the frames
/// that depend on them; the detector looks at the chosen frames only. A sample that cannot be decoded whole makes the
/// count fail (the file waits for a review), never a guess from the frames that could.
public enum VideoFaces {
    public static let formats: Set<MediaFormat> = [.mp4, .mov, .threeGP]
    /// The most frames looked at in one video.
    public static let maxFrames = 60
    /// Frames looked at are at least this far apart (seconds) while the cap is not reached.
    public static let spacing = 1.0
    /// The most samples decoded in order (5 minutes at 30 frames a second, about 40 s of one core for 1080p): a
    /// longer video has only the key frames at or after each chosen time decoded, each on its own.
    public static let maxDecodedSamples = 9_000

    public static func detect(
        _ source: FileSource, options: FaceOptions, limits: MediaLimits, maxDecoded: Int = maxDecodedSamples
    ) throws(MediaError) -> FaceReading {
        let minFace = max(20, options.minFacePixels)
        guard let video = try VideoSamples.read(source) else {
            // Audio only: nobody is visible.
            return FaceReading(
                faces: [], width: 0, height: 0, smallestDetectable: minFace, detector: FaceDetector.name, frames: 0)
        }
        let targets = frameTimes(video.samples.map(\.time), timescale: video.timescale)
        let start = targets.first ?? 0
        var decoder = try FrameDecoder(
            codec: video.codec, configuration: video.configuration, limits: limits, what: "\(video.codec) video")
        var next = 0
        var looked = 0
        var best: FaceReading? = nil
        func drain() throws(MediaError) {
            while let frame = try decoder.receive() {
                guard next < targets.count, frame.time >= targets[next] else { continue }
                while next < targets.count && targets[next] <= frame.time { next += 1 }
                let turned = video.quarterTurns % 2 == 1
                let plan = FaceDetector.workingPlan(
                    width: turned ? frame.height : frame.width, height: turned ? frame.width : frame.height,
                    options: options)
                let picture = try decoder.picture(
                    width: frame.width, height: frame.height, maxSide: plan.decodeSide,
                    quarterTurns: video.quarterTurns)
                var reading = try FaceDetector.detect(
                    picture, upsample: plan.upsample, options: options, format: "\(video.codec) video")
                looked += 1
                reading.frameSeconds = Double(frame.time - start) / Double(max(1, video.timescale))
                if best == nil || reading.count > best!.count { best = reading }
            }
        }
        if video.samples.count <= maxDecoded {
            for sample in video.samples {
                try decoder.send(try source.read(sample.range), time: sample.time)
                try drain()
            }
            try decoder.send(nil, time: 0)
            try drain()
        } else {
            // A long video: for each time still to look at, the first key frame shown at or after it, decoded alone
            // by a fresh decoder (a person who appears between key frames and leaves before the next is missed).
            let keys = video.samples.filter(\.sync).sorted { $0.time < $1.time }
            var used = Set<Int>()
            for (index, target) in targets.enumerated() {
                guard let key = keys.first(where: { $0.time >= target }) ?? keys.last, used.insert(key.time).inserted
                else { continue }
                decoder = try FrameDecoder(
                    codec: video.codec, configuration: video.configuration, limits: limits, what: "\(video.codec) video")
                next = index
                let before = looked
                try decoder.send(try source.read(key.range), time: max(key.time, target))
                try drain()
                try decoder.send(nil, time: 0)
                try drain()
                guard looked > before else {
                    throw .malformed(format: "\(video.codec) video", reason: "the key frame at \(key.time) gave no picture")
                }
            }
            next = targets.count
        }
        guard var reading = best else {
            throw .malformed(format: "\(video.codec) video", reason: "no frame could be decoded")
        }
        guard next >= targets.count else {
            throw .malformed(
                format: "\(video.codec) video",
                reason: "\(targets.count - next) of the \(targets.count) frames to look at were not decoded")
        }
        reading.frames = looked
        if let seconds = reading.frameSeconds { reading.frameSeconds = (seconds * 1000).rounded() / 1000 }
        return reading
    }

    /// The presentation times (in the track's ticks) of the frames to look at: the first frame, then one every
    /// `spacing` seconds through the last; when that is more than `maxFrames`, `maxFrames` spread evenly from the
    /// first to the last. Each is looked at in the first frame shown at or after it.
    static func frameTimes(_ times: [Int], timescale: Int) -> [Int] {
        guard let first = times.min(), let last = times.max() else { return [] }
        let step = max(1, Int((spacing * Double(max(1, timescale))).rounded()))
        let count = (last - first) / step + 1
        if count <= maxFrames { return (0..<count).map { first + $0 * step } }
        return (0..<maxFrames).map { first + Int((Double(last - first) * Double($0) / Double(maxFrames - 1)).rounded(.down)) }
    }
}

extension FaceDetector {
    /// The faces of a file in any format `supports` takes: a video's frames, a WebP, GIF, HEIC, HEIF or AVIF picture
    /// through libavcodec or libheif, a JPEG or PNG through our decoders.
    public static func detect(_ source: FileSource, format: MediaFormat, options: FaceOptions, limits: MediaLimits)
        throws(MediaError) -> FaceReading
    {
        if VideoFaces.formats.contains(format) { return try VideoFaces.detect(source, options: options, limits: limits) }
        guard source.count <= limits.maxFileBytes else {
            throw .limitExceeded("the file is \(source.count) bytes, over \(limits.maxFileBytes)")
        }
        let bytes = try source.read(0..<source.count)
        if PictureFaces.formats.contains(format) {
            return try PictureFaces.detect(bytes, format: format, options: options, limits: limits)
        }
        return try detect(bytes, format: format, options: options, limits: limits)
    }
}
