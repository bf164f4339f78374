// libFuzzer target: the face counter's decoders (issue 24): JPEG and PNG through our decoders, WebP and GIF through
// libavcodec, HEIC/HEIF/AVIF through libheif, and a video's samples (our ISO-BMFF reader) through libavcodec, each
// followed by dlib's detector, as the sandboxed worker's fingerprint request runs them. Beyond "no crash": a reading
// is consistent (no more boxes than the detector reports, boxes of positive size that touch the picture, frames
// counted for videos only). Run with Scripts/fuzz faces [SECONDS].
import ByteKit
import FaceDetection
import MediaFormats

#if canImport(Glibc)
    import Glibc
#endif

/// Small pictures keep each input fast: the detector's working size follows the picture's.
let faceLimits = MediaLimits(
    maxFileBytes: 4 << 20, maxPixels: 1 << 20, maxDecoderMemoryBytes: 256 << 20, maxProgressiveScans: 100)

let prepared: Bool = {
    FaceDetector.prepare()
    return true
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    _ = prepared
    let bytes = fuzzBytes(data, size)
    let format = MediaFormat.sniff(bytes)
    guard FaceDetector.supports(format) else { return -1 }
    let input = isoFolder + "/faces-input"
    writeWhole(input, bytes)
    defer { unlink(input) }
    guard let source = try? FileSource(path: input) else { oracleFailure("cannot open the input just written") }
    guard let reading = try? FaceDetector.detect(source, format: format, options: FaceOptions(), limits: faceLimits)
    else { return 0 }
    if reading.faces.count > 256 { oracleFailure("\(reading.faces.count) boxes, over the detector's capacity") }
    if !reading.faces.isEmpty, reading.width <= 0 || reading.height <= 0 {
        oracleFailure("faces found in a picture of \(reading.width)x\(reading.height)")
    }
    for box in reading.faces {
        if box.width <= 0 || box.height <= 0 { oracleFailure("a box of \(box.width)x\(box.height)") }
        if box.left >= reading.width || box.top >= reading.height || box.left + box.width <= 0
            || box.top + box.height <= 0
        {
            oracleFailure("a box outside the \(reading.width)x\(reading.height) picture: \(box)")
        }
    }
    if reading.frames != nil, !VideoFaces.formats.contains(format) {
        oracleFailure("frames counted for a \(format.rawValue) picture")
    }
    return 0
}
