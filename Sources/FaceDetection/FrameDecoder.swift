import ByteKit
internal import CVideoShim
import MediaFormats

/// libavcodec behind `CVideoShim`, on one thread: compressed samples in, frames out, each frame in grey at a reduced
/// size. A sample the decoder cannot decode whole is an error (never a frame with gaps counted as seen).
final class FrameDecoder {
    private var decoder: OpaquePointer?
    private let what: String

    /// Silences libav's log (it would write to stderr) and initialises libheif: before the worker's sandbox, and
    /// again (harmless) before each decoder in process.
    static func prepare() {
        cgvideo_prepare()
        cgheif_prepare()
    }

    init(codec: String, configuration: [UInt8], limits: MediaLimits, what: String) throws(MediaError) {
        self.what = what
        Self.prepare()
        var message = [CChar](repeating: 0, count: 256)
        var opened: OpaquePointer? = nil
        let status = configuration.withUnsafeBufferPointer { extra in
            cgvideo_open(codec, extra.baseAddress, extra.count, limits.maxPixels, &opened, &message, message.count)
        }
        try check(status, message)
        decoder = opened
    }

    deinit { cgvideo_close(decoder) }

    private func check(_ status: Int32, _ message: [CChar]) throws(MediaError) {
        guard status != CGVIDEO_OK else { return }
        let why = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if status == CGVIDEO_LIMIT { throw .limitExceeded("\(what): \(why)") }
        throw .malformed(format: what, reason: why)
    }

    /// Hands over one sample (nil: no more).
    func send(_ sample: [UInt8]?, time: Int) throws(MediaError) {
        var message = [CChar](repeating: 0, count: 256)
        let status: Int32
        if let sample {
            status = sample.withUnsafeBufferPointer {
                cgvideo_send(decoder, $0.baseAddress, $0.count, Int64(time), &message, message.count)
            }
        } else {
            status = cgvideo_send(decoder, nil, 0, 0, &message, message.count)
        }
        try check(status, message)
    }

    /// The next frame's time and size, nil when the decoder needs the next sample.
    func receive() throws(MediaError) -> (time: Int, width: Int, height: Int)? {
        var message = [CChar](repeating: 0, count: 256)
        var time: Int64 = 0
        var width: UInt32 = 0
        var height: UInt32 = 0
        let status = cgvideo_receive(decoder, &time, &width, &height, &message, message.count)
        if status == CGVIDEO_AGAIN { return nil }
        try check(status, message)
        return (Int(time), Int(width), Int(height))
    }

    /// The frame `receive` gave, upright (`quarterTurns` clockwise), in grey with its longer side reduced to at most
    /// `maxSide`.
    func picture(width: Int, height: Int, maxSide: Int, quarterTurns: Int) throws(MediaError) -> WorkingPicture {
        let longest = max(width, height)
        let side = max(1, min(longest, maxSide))
        let w = max(1, Int((Double(width) * Double(side) / Double(longest)).rounded()))
        let h = max(1, Int((Double(height) * Double(side) / Double(longest)).rounded()))
        var gray = [UInt8](repeating: 0, count: w * h)
        var message = [CChar](repeating: 0, count: 256)
        let status = gray.withUnsafeMutableBufferPointer {
            cgvideo_gray(decoder, UInt32(w), UInt32(h), $0.baseAddress, &message, message.count)
        }
        try check(status, message)
        let turns = ((quarterTurns % 4) + 4) % 4
        let turned = Self.turn(gray, width: w, height: h, quarterTurns: turns)
        let odd = turns % 2 == 1
        return WorkingPicture(
            gray: turned, width: odd ? h : w, height: odd ? w : h, originalWidth: odd ? height : width,
            originalHeight: odd ? width : height)
    }

    /// Turns a grey picture clockwise by `quarterTurns` (0 to 3).
    static func turn(_ gray: [UInt8], width: Int, height: Int, quarterTurns: Int) -> [UInt8] {
        guard quarterTurns != 0 else { return gray }
        var out = [UInt8](repeating: 0, count: gray.count)
        for y in 0..<height {
            for x in 0..<width {
                let value = gray[y * width + x]
                switch quarterTurns {
                case 1: out[x * height + (height - 1 - y)] = value
                case 2: out[(height - 1 - y) * width + (width - 1 - x)] = value
                default: out[(width - 1 - x) * height + y] = value
                }
            }
        }
        return out
    }
}
