import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import FaceDetection
@testable import MediaFormats

/// What made the detector fast enough for issue 24's cost target (docs/faces.md, "Working size and cost") without
/// changing what it finds: the AVX2 build of dlib's detector, chosen at run time, finds the same boxes as the generic
/// one; neither can leak AVX2 code into what any x86-64 runs; and a JPEG's luma decoded alone is the picture the
/// RGB path gave, upright for every Orientation.
final class FaceDetectorSpeedTests: XCTestCase {
    /// The processor's flags from /proc/cpuinfo (empty where there is none).
    func processorFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(line.split(separator: ":").last.map { $0.split(separator: " ").map(String.init) } ?? [])
    }

    func testTheAVX2BuildIsChosenExactlyWhereTheProcessorHasAVX2AndFMA() {
        #if arch(x86_64)
            let flags = processorFlags()
            let expected: FaceDetector.Build = flags.contains("avx2") && flags.contains("fma") ? .avx2 : .generic
            XCTAssertEqual(FaceDetector.Build.chosen, expected, "flags: \(flags.sorted().joined(separator: " "))")
        #else
            XCTAssertEqual(FaceDetector.Build.chosen, .generic)
        #endif
    }

    func testBothBuildsFindTheSameBoxes() throws {
        guard FaceDetector.Build.chosen == .avx2 else {
            throw XCTSkip("this processor has no AVX2 and FMA: only the generic build can run here")
        }
        FaceDetector.prepare()
        let options = FaceOptions()
        var compared = 0
        let samples = ["faces-group-of-three.jpg", "demo-two-people.jpg", "faces-one-person.jpg", "faces-no-people.jpg"]
        for sample in samples {
            let bytes = try Fixtures.sample(sample)
            let header = try ImageCodec.readHeader(.jpeg, bytes, limits: MediaLimits())
            let plan = FaceDetector.workingPlan(width: header.width, height: header.height, options: options)
            let picture = try WorkingPicture.decode(
                bytes, format: .jpeg, maxSide: plan.decodeSide, limits: MediaLimits())
            let generic = try FaceDetector.detect(
                picture, upsample: plan.upsample, options: options, format: "jpeg", build: .generic)
            let avx2 = try FaceDetector.detect(
                picture, upsample: plan.upsample, options: options, format: "jpeg", build: .avx2)
            XCTAssertEqual(avx2.faces.count, generic.faces.count, sample)
            for (a, g) in zip(avx2.faces, generic.faces) {
                XCTAssertEqual([a.left, a.top, a.width, a.height], [g.left, g.top, g.width, g.height], sample)
                XCTAssertEqual(a.score, g.score, accuracy: 0.002, sample)
            }
            compared += generic.faces.count
        }
        XCTAssertEqual(compared, 6, "the samples' faces: 3 + 2 + 1 + 0")
    }

    /// The AVX2 build's object file: every function with an AVX (VEX-encoded) instruction is the AVX2 build's own
    /// (dlib's namespace renamed to cgface_avx2_dlib, or its C entry points). A standard-library template or start-up
    /// code compiled for AVX2 would be shared with the generic build by the linker and could run on any x86-64.
    func testNoAVX2CodeOutsideTheAVX2Build() throws {
        #if !arch(x86_64)
            throw XCTSkip("the AVX2 build exists on x86-64 only")
        #else
            let objdump = try Fixtures.requireTool("objdump")
            let folder = (Bundle.main.executableURL ?? Bundle.main.bundleURL).deletingLastPathComponent()
            let object = folder.appendingPathComponent("CFaceShim.build/face_shim_avx2.cpp.o").path
            guard FileManager.default.fileExists(atPath: object) else {
                return XCTFail("\(object) is missing: run `swift build --build-tests` first")
            }
            let listing = try Fixtures.run(objdump, ["-d", "--no-show-raw-insn", "-C", object])
            XCTAssertEqual(listing.status, 0, listing.output)
            var function = ""
            var vexInOwnCode = 0
            var outside: [String: String] = [:]
            for line in listing.output.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                    function = String(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)])
                    continue
                }
                guard let instruction = line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces),
                    line.contains(":\t")
                else { continue }
                let vex = (instruction.first == "v" && instruction.dropFirst().first?.isLetter == true)
                    || instruction.contains("%ymm")
                guard vex else { continue }
                if function.contains("cgface_avx2_dlib") || function.hasPrefix("cgface_avx2_") {
                    vexInOwnCode += 1
                } else if outside[function] == nil {
                    outside[function] = instruction
                }
            }
            XCTAssertGreaterThan(vexInOwnCode, 100, "the AVX2 build has AVX2 code")
            XCTAssertEqual(outside, [:], "AVX instructions outside the AVX2 build's own functions")
        #endif
    }

    func testAJPEGsLumaIsTheRGBPathsPictureUprightForEveryOrientation() throws {
        let exiftool = try Fixtures.requireTool("exiftool")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try Fixtures.sample("faces-group-of-three.jpg")
        for orientation in 1...8 {
            let path = folder.appendingPathComponent("o\(orientation).jpg").path
            try Data(source).write(to: URL(fileURLWithPath: path))
            let tagged = try Fixtures.run(exiftool, ["-q", "-overwrite_original", "-Orientation#=\(orientation)", path])
            XCTAssertEqual(tagged.status, 0, tagged.output)
            let bytes = try Fixtures.bytes(URL(fileURLWithPath: path))
            let header = try ImageCodec.readHeader(.jpeg, bytes, limits: MediaLimits())
            for maxSide in [2000, 500, 301] {
                XCTAssertNotNil(try WorkingPicture.jpegLuma(bytes, maxSide: maxSide, limits: MediaLimits()))
                let luma = try WorkingPicture.decode(bytes, format: .jpeg, maxSide: maxSide, limits: MediaLimits())
                let rgb = try WorkingPicture.decodeRGB(
                    bytes, format: .jpeg, header: header, maxSide: maxSide, limits: MediaLimits())
                let what = "Orientation \(orientation), max side \(maxSide)"
                XCTAssertEqual(
                    [luma.width, luma.height, luma.originalWidth, luma.originalHeight],
                    [rgb.width, rgb.height, rgb.originalWidth, rgb.originalHeight], what)
                guard luma.gray.count == rgb.gray.count else { continue }
                var total = 0
                var worst = 0
                for (a, b) in zip(luma.gray, rgb.gray) {
                    let difference = abs(Int(a) - Int(b))
                    total += difference
                    worst = max(worst, difference)
                }
                // The luma libjpeg decodes against the one computed from its RGB: rounding, and RGB's clipping of
                // saturated colours (16 levels at most here; a picture turned wrong differs by far more on average).
                XCTAssertLessThan(Double(total) / Double(luma.gray.count), 1.0, what)
                XCTAssertLessThanOrEqual(worst, 24, what)
            }
        }
    }

    func testAGreyJPEGTakesTheLumaPathAndAnRGBOneDoesNot() throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = Fixtures.sampleMedia.appendingPathComponent("faces-group-of-three.jpg").path
        let grey = folder.appendingPathComponent("grey.jpg").path
        let made = try Fixtures.run(ffmpeg, ["-v", "error", "-i", source, "-pix_fmt", "gray", "-q:v", "3", grey])
        XCTAssertEqual(made.status, 0, made.output)
        let greyBytes = try Fixtures.bytes(URL(fileURLWithPath: grey))
        XCTAssertNotNil(try WorkingPicture.jpegLuma(greyBytes, maxSide: 400, limits: MediaLimits()))
        XCTAssertEqual(
            try FaceDetector.detect(greyBytes, format: .jpeg, options: FaceOptions(), limits: MediaLimits()).count, 3)
        // libjpeg's own RGB JPEG (no YCbCr: Adobe transform 0) has no luma to decode alone: the RGB path reads it.
        let cjpeg = try Fixtures.requireTool("cjpeg")
        let ppm = folder.appendingPathComponent("group.ppm").path
        XCTAssertEqual(try Fixtures.run(ffmpeg, ["-v", "error", "-i", source, ppm]).status, 0)
        let rgbJPEG = folder.appendingPathComponent("rgb.jpg").path
        let encoded = try Fixtures.run("/bin/sh", ["-c", "'\(cjpeg)' -rgb -quality 90 '\(ppm)' > '\(rgbJPEG)'"])
        XCTAssertEqual(encoded.status, 0, encoded.output)
        let rgbBytes = try Fixtures.bytes(URL(fileURLWithPath: rgbJPEG))
        XCTAssertNil(try WorkingPicture.jpegLuma(rgbBytes, maxSide: 400, limits: MediaLimits()))
        XCTAssertEqual(
            try FaceDetector.detect(rgbBytes, format: .jpeg, options: FaceOptions(), limits: MediaLimits()).count, 3)
    }
}
