import ByteKit
import FaceDetection
import Foundation
import MediaFormats

/// `consentgate-bench faces FILE [--runs N] [--min-face-pixels P] [--boxes]`: the face detector's cost on one picture
/// or video (decoding included), in wall-clock and in the process's CPU time (what one core spends, whatever else the
/// machine runs). `--boxes` also prints the boxes found, one `left top width height score` a line (the accuracy
/// measurement of docs/faces.md runs the product's path through it).
enum FacesBench {
    static func run(_ arguments: [String]) -> Never {
        guard let file = arguments.first else { fail("usage: consentgate-bench faces FILE [--runs N]") }
        func value(_ name: String, _ fallback: Int) -> Int {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count,
                let number = Int(arguments[index + 1])
            else { return fallback }
            return number
        }
        let runs = max(1, value("--runs", 5))
        let options = FaceOptions(minFacePixels: value("--min-face-pixels", FaceOptions.defaultMinFacePixels))
        let source: FileSource
        do { source = try FileSource(path: file) } catch { fail("cannot read \(file): \(error)") }
        let format: MediaFormat
        do { format = MediaFormat.sniff(try source.read(0..<min(32, source.count))) } catch { fail("\(file): \(error)") }
        FaceDetector.prepare()
        var times: [Double] = []
        var cpuTimes: [Double] = []
        var reading: FaceReading? = nil
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = cpuMilliseconds()
            do { reading = try FaceDetector.detect(source, format: format, options: options, limits: MediaLimits()) } catch {
                fail("\(file): \(error)")
            }
            cpuTimes.append(cpuMilliseconds() - cpuStart)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let mean = times.reduce(0, +) / Double(times.count)
        let cpuMean = cpuTimes.reduce(0, +) / Double(cpuTimes.count)
        if arguments.contains("--boxes") {
            for box in reading!.faces { print("box \(box.left) \(box.top) \(box.width) \(box.height) \(box.score)") }
        }
        let found = reading!
        let frames = found.frames.map { ", \($0) frame(s) looked at" } ?? ""
        func ms(_ value: Double) -> String { String(format: "%.1f", value) }
        print(
            "\(file): \(found.width)x\(found.height), \(found.count) face(s), smallest face looked for "
                + "\(found.smallestDetectable) px\(frames); \(runs) run(s): mean \(ms(mean)) ms, best \(ms(times.min()!)) ms, "
                + "worst \(ms(times.max()!)) ms; CPU mean \(ms(cpuMean)) ms, best \(ms(cpuTimes.min()!)) ms")
        exit(0)
    }

    /// The process's CPU time so far, every thread's (libheif's HEVC decoder runs one of its own).
    static func cpuMilliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) / 1e6
    }
}
