import ByteKit
internal import CFaceShim
import MediaFormats

/// One face the detector found, in the upright original's pixels, with dlib's detection confidence. Only where a
/// face is: never a descriptor, landmarks or anything that could recognise the person.
public struct FaceBox: Codable, Sendable, Equatable {
    public var left: Int
    public var top: Int
    public var width: Int
    public var height: Int
    public var score: Double

    public init(left: Int, top: Int, width: Int, height: Int, score: Double) {
        self.left = left
        self.top = top
        self.width = width
        self.height = height
        self.score = score
    }

    /// The longer side, what `min_face_pixels` is compared with.
    public var side: Int { max(width, height) }
}

/// What the pipeline asks the detector for.
public struct FaceOptions: Codable, Sendable, Equatable {
    /// Faces smaller than this (the box's longer side, in the original's pixels) are not counted.
    public var minFacePixels: Int
    /// dlib's detection confidence a face must reach (0: dlib's default).
    public var threshold: Double
    /// The most pixels the detector scans in one picture (bounds its time and memory): a larger picture is reduced,
    /// and its smallest findable face grows (`FaceReading.smallestDetectable`).
    public var maxWorkingPixels: Int

    public static let defaultMinFacePixels = 32
    public static let defaultThreshold = 0.0
    public static let defaultMaxWorkingPixels = 2_000_000

    public init(
        minFacePixels: Int = defaultMinFacePixels, threshold: Double = defaultThreshold,
        maxWorkingPixels: Int = defaultMaxWorkingPixels
    ) {
        self.minFacePixels = minFacePixels
        self.threshold = threshold
        self.maxWorkingPixels = maxWorkingPixels
    }
}

/// The faces in one picture.
public struct FaceReading: Codable, Sendable, Equatable {
    /// Every face at or over the threshold and `min_face_pixels`, best first.
    public var faces: [FaceBox]
    /// The upright original's size (the boxes' coordinates).
    public var width: Int
    public var height: Int
    /// The smallest face (longer side, original pixels) the detector could see at the working size used: faces
    /// between `min_face_pixels` and this were not looked for (a picture too large for the working size).
    public var smallestDetectable: Int
    /// Which detector looked.
    public var detector: String
    /// A video: how many frames were looked at, and the time of the frame the faces are from (the one with the
    /// most), in seconds from the first frame decoded. Nil for a picture.
    public var frames: Int? = nil
    public var frameSeconds: Double? = nil

    public var count: Int { faces.count }
}

/// dlib's HOG frontal face detector (a model compiled into libdlib: the sandboxed worker opens no file), run on the
/// decoded, upright picture reduced to a bounded working size. Chosen by measured recall on a labeled set (see
/// docs/faces.md).
public enum FaceDetector {
    public static let name = "dlib-hog-frontal"
    /// dlib's window: faces of about this many pixels a side are found at the working size without doubling.
    static let window = 80
    /// At most this many boxes are reported (a picture of a crowd is a crowd either way).
    static let capacity = 256

    /// Whether faces can be looked for in this format: JPEG and PNG (our decoders), WebP and GIF (libavcodec), HEIC,
    /// HEIF and AVIF (libheif), and the frames of MP4, MOV and 3GP videos (libavcodec).
    public static func supports(_ format: MediaFormat) -> Bool {
        Preview.supports(format) || PictureFaces.formats.contains(format) || VideoFaces.formats.contains(format)
    }

    /// Builds the detector and sets up the decoders ahead of the first request (a benchmark, before timing).
    public static func prepare() {
        _ = cgface_prepare()
        prepareDecoders()
    }

    /// Sets up the video and HEIF decoders' process-wide state (in a worker, before its seccomp filter); the
    /// detector itself is built by the first `detect`.
    public static func prepareDecoders() {
        FrameDecoder.prepare()
    }

    /// The faces in a JPEG or PNG (WebP and GIF: `PictureFaces`). Throws when the picture cannot be decoded within
    /// `limits`.
    public static func detect(_ bytes: [UInt8], format: MediaFormat, options: FaceOptions, limits: MediaLimits)
        throws(MediaError) -> FaceReading
    {
        guard Preview.supports(format) else { throw .unsupported(format.rawValue) }
        let header = try ImageCodec.readHeader(format, bytes, limits: limits)
        let plan = workingPlan(width: header.width, height: header.height, options: options)
        let picture = try WorkingPicture.decode(bytes, format: format, maxSide: plan.decodeSide, limits: limits)
        return try detect(picture, upsample: plan.upsample, options: options, format: format.rawValue)
    }

    /// The two builds of the detector (CFaceShim): dlib's code for any processor, and for x86-64 processors with AVX2
    /// and FMA (8-wide float vectors: about a third less time, the same boxes).
    enum Build: Int32, Sendable {
        case generic = 0  // CGFACE_PATH_GENERIC
        case avx2 = 1  // CGFACE_PATH_AVX2

        /// The one `detect` runs on this processor.
        static var chosen: Build { Build(rawValue: cgface_path()) ?? .generic }
    }

    /// The faces in a picture already decoded to its working size (`workingPlan`'s `decodeSide`), doubled `upsample`
    /// times by the detector.
    public static func detect(_ picture: WorkingPicture, upsample: UInt32, options: FaceOptions, format: String)
        throws(MediaError) -> FaceReading
    {
        try detect(picture, upsample: upsample, options: options, format: format, build: .chosen)
    }

    /// `detect` with a given build of the detector (an error where this processor cannot run it).
    static func detect(_ picture: WorkingPicture, upsample: UInt32, options: FaceOptions, format: String, build: Build)
        throws(MediaError) -> FaceReading
    {
        let scale = picture.scale
        let minFace = max(20, options.minFacePixels)
        var boxes = [cgface_box](repeating: cgface_box(), count: capacity)
        var found = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = picture.gray.withUnsafeBufferPointer { gray in
            cgface_detect_path(
                build.rawValue, gray.baseAddress, UInt32(picture.width), UInt32(picture.height), upsample,
                options.threshold, UInt64(max(10_000, options.maxWorkingPixels)) * 2, &boxes, capacity, &found,
                &message, message.count)
        }
        guard status == CGFACE_OK else {
            let why = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if status == CGFACE_LIMIT { throw .limitExceeded("face detector: \(why)") }
            throw .malformed(format: format, reason: "face detector: \(why)")
        }
        let faces = boxes.prefix(found).map { box in
            FaceBox(
                left: Int((Double(box.left) * scale).rounded()), top: Int((Double(box.top) * scale).rounded()),
                width: Int((Double(box.width) * scale).rounded()), height: Int((Double(box.height) * scale).rounded()),
                score: (box.score * 1000).rounded() / 1000)
        }.filter { $0.side >= minFace }
        let smallest = Int((Double(window) * scale / Double(1 << upsample)).rounded(.up))
        return FaceReading(
            faces: faces, width: picture.originalWidth, height: picture.originalHeight,
            smallestDetectable: max(minFace, smallest), detector: name)
    }

    /// `workingPlan` with the options' smallest face and pixel budget.
    public static func workingPlan(width: Int, height: Int, options: FaceOptions) -> (decodeSide: Int, upsample: UInt32) {
        workingPlan(
            width: width, height: height, minFace: max(20, options.minFacePixels),
            budget: max(10_000, options.maxWorkingPixels))
    }

    /// How to bring a `width` x `height` picture to the detector: the scale t at which a face of `minFace` pixels
    /// fills dlib's window, no more than `budget` pixels scanned, as a decode to `decodeSide` (reduced, never
    /// enlarged) followed by `upsample` doublings.
    static func workingPlan(width: Int, height: Int, minFace: Int, budget: Int) -> (decodeSide: Int, upsample: UInt32) {
        let pixels = Double(max(1, width)) * Double(max(1, height))
        var t = Double(window) / Double(minFace)
        t = min(t, (Double(budget) / pixels).squareRoot(), 4)
        var upsample: UInt32 = 0
        while upsample < 2 && t > Double(1 << upsample) { upsample += 1 }
        let reduce = t / Double(1 << upsample)
        let longest = max(width, height)
        return (max(1, min(longest, Int((Double(longest) * reduce).rounded()))), upsample)
    }
}
