import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// The sanitizer against every real camera and phone file in ../shared/corpus, judged by outside tools:
/// leakcheck (exiftool) for metadata, ffmpeg for pixels, djpeg and pngfix for what is decodable at all.
final class CorpusTests: XCTestCase {
    struct StripReport: Decodable {
        var input: String
        var output: String?
        var status: String
        var reason: String?
    }

    func corpusFiles(_ formats: Set<MediaFormat>) throws -> [URL] {
        let corpus = try Fixtures.requireCorpus()
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()
        return try names.filter { $0 != "SOURCES.tsv" }.map { corpus.appendingPathComponent($0) }.filter { url in
            formats.contains(MediaFormat.sniff(try Fixtures.bytes(url).prefix(32)))
        }
    }

    func strip(_ files: [URL], into folder: URL, extra: [String] = []) throws -> [StripReport] {
        let outcome = try Fixtures.run(
            try Fixtures.consentgate, ["strip", "--json", "--output-dir", folder.path] + extra + files.map(\.path))
        XCTAssertTrue([0, 1].contains(outcome.status), "strip exited \(outcome.status): \(outcome.stderr)")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode([StripReport].self, from: outcome.stdout)
    }

    /// ICC fields that do not change colours, which publishing sets to 0 or fixed text or drops (ICCProfile): the
    /// header's CMM, platform, device maker, model and attributes, creator, date and profile ID; descriptions,
    /// copyright and other text; Apple's and others' private and display-calibration tags. Every colour tag
    /// (matrix, curves, white point, chromatic adaptation, LUTs...) must still read the same.
    static func isICCText(_ key: String) -> Bool {
        let name = key.split(separator: ":").last.map(String.init) ?? key
        let header = [
            "ProfileCMMType", "PrimaryPlatform", "DeviceManufacturer", "DeviceModel", "DeviceAttributes",
            "ProfileCreator", "ProfileDateTime", "ProfileID",
        ]
        let text = ["Desc", "Copyright", "MakeAndModel", "NativeDisplayInfo", "VideoCardGamma", "CalibrationDateTime",
            "CharTarget", "ProfileSequence"]
        return (key.hasPrefix("ICC") && (header.contains(name) || text.contains { name.contains($0) }))
    }

    /// exiftool's reading of the orientation and of the ICC profile, per file: EXIF IFD0 Orientation for
    /// pictures; for video and phone formats the rotation (tkhd matrix, HEIF irot), since an Exif Orientation
    /// inside a HEIC's Exif item does not count there (HEIF displays by irot/imir, which are kept).
    func orientationAndICC(_ paths: [String], videoOrPhone: Bool = false) throws -> [String: String] {
        let exiftool = try Fixtures.requireTool("exiftool")
        let orientation = videoOrPhone ? "-Composite:Rotation" : "-IFD0:Orientation"
        let outcome = try Fixtures.run(
            exiftool, ["-j", "-n", "-G1", orientation, "-ICC_Profile:all", "-ICC-header:all"] + paths)
        let records = try JSONSerialization.jsonObject(with: outcome.stdout) as? [[String: Any]] ?? []
        var result: [String: String] = [:]
        for record in records {
            let path = record["SourceFile"] as? String ?? ""
            let fields = record.filter { $0.key != "SourceFile" && !CorpusTests.isICCText($0.key) }
                .map { "\($0.key)=\($0.value)" }.sorted()
            result[path] = fields.joined(separator: "; ")
        }
        return result
    }

    /// Decoded frames and audio samples as the reference decoders see them, without applying a video's rotation
    /// (ffmpeg framemd5); HEIF images (primary and auxiliary) decoded by heif-convert, which applies irot/imir,
    /// so a lost rotation shows as different pixels. Nil when the reference decoder cannot decode.
    func frames(_ path: String) throws -> String? {
        let format = MediaFormat.sniff(try Fixtures.bytes(URL(fileURLWithPath: path)).prefix(32))
        if [.heic, .heif, .avif].contains(format) {
            let convert = try Fixtures.requireTool("heif-convert")
            let folder = try Fixtures.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let outcome = try Fixtures.run(
                convert,
                ["--quiet", "--with-aux", "--no-colons", path, folder.appendingPathComponent("image.y4m").path])
            guard outcome.status == 0 else { return nil }
            var digests: [String] = []
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
                digests.append(name + " " + sha256Hex(try Fixtures.bytes(folder.appendingPathComponent(name))))
            }
            return digests.isEmpty ? nil : digests.joined(separator: "\n")
        }
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        var arguments = ["-v", "error", "-noautorotate", "-i", path]
        if format.isISOBMFF { arguments += ["-map", "0:v?", "-map", "0:a?"] }
        let outcome = try Fixtures.run(ffmpeg, arguments + ["-f", "framemd5", "-"])
        guard outcome.status == 0 else { return nil }
        let lines = outcome.text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    /// Whether the reference decoder reads the file without complaint.
    func referenceDecodesCleanly(_ url: URL) throws -> Bool {
        switch MediaFormat.sniff(try Fixtures.bytes(url).prefix(32)) {
        case .jpeg:
            let djpeg = try Fixtures.requireTool("djpeg")
            return try Fixtures.run(djpeg, ["-outfile", "/dev/null", url.path]).status == 0
        case .png:
            let pngfix = try Fixtures.requireTool("pngfix")
            return try Fixtures.run(pngfix, [url.path]).status == 0
        case .heic, .heif, .avif:
            return try frames(url.path) != nil
        case .webp, .gif, .mp4, .mov, .threeGP:
            let ffmpeg = try Fixtures.requireTool("ffmpeg")
            return try Fixtures.run(ffmpeg, ["-v", "error", "-xerror", "-i", url.path, "-f", "null", "-"]).status == 0
        default:
            // TIFF is not a publishing format here, and unknown bytes are nothing at all.
            return false
        }
    }

    static let pictures: Set<MediaFormat> = [.jpeg, .png, .webp, .gif]
    static let phoneAndVideo: Set<MediaFormat> = [.mp4, .mov, .threeGP, .heic, .heif, .avif]

    func testEverySupportedFileIsWrittenCleanOrRefusedLikeTheReferenceDecoder() throws {
        let files = try corpusFiles(CorpusTests.pictures.union(CorpusTests.phoneAndVideo))
        XCTAssertGreaterThan(files.count, 105)
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let reports = try strip(files, into: folder)
        XCTAssertEqual(reports.count, files.count)

        var written: [StripReport] = []
        for report in reports {
            if report.status == "written" {
                written.append(report)
            } else {
                let input = URL(fileURLWithPath: report.input)
                XCTAssertFalse(
                    try referenceDecodesCleanly(input),
                    "\(input.lastPathComponent) refused (\(report.reason ?? "")) although the reference decoder reads it"
                )
                XCTAssertFalse(
                    FileManager.default.fileExists(atPath: folder.appendingPathComponent(input.lastPathComponent).path))
            }
        }
        XCTAssertGreaterThan(written.count, 95)
        func isVideoOrPhone(_ report: StripReport) throws -> Bool {
            CorpusTests.phoneAndVideo.contains(
                MediaFormat.sniff(try Fixtures.bytes(URL(fileURLWithPath: report.input)).prefix(32)))
        }
        XCTAssertGreaterThan(try written.filter(isVideoOrPhone).count, 14, "video and phone files written")
        // No leftover files, temporary or otherwise.
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(left.count, written.count, "stray files in the output folder: \(left.sorted())")

        // 0 leaks, as the outside judge sees it.
        let leakcheck = try Fixtures.requireTool("exiftool") == "" ? "" : Fixtures.leakcheck.path
        let outputs = written.compactMap(\.output)
        let leaks = try Fixtures.run("/usr/bin/env", ["python3", leakcheck] + outputs)
        XCTAssertEqual(leaks.status, 0, "leakcheck: \(leaks.text)\(leaks.stderr)")

        // Orientation and ICC as in the input: EXIF Orientation for pictures, the rotation for video and HEIF.
        let pictures = try written.filter { try !isVideoOrPhone($0) }
        let others = try written.filter(isVideoOrPhone)
        let before = try orientationAndICC(pictures.map(\.input)).merging(
            try orientationAndICC(others.map(\.input), videoOrPhone: true), uniquingKeysWith: { a, _ in a })
        let after = try orientationAndICC(pictures.map { $0.output! }).merging(
            try orientationAndICC(others.map { $0.output! }, videoOrPhone: true), uniquingKeysWith: { a, _ in a })
        for report in written {
            XCTAssertEqual(before[report.input], after[report.output!], "orientation/ICC changed for \(report.input)")
        }
        XCTAssertTrue(
            before.contains { $0.key.hasSuffix("with-gps.mov") && $0.value.contains("Rotation=90") },
            "the corpus's rotated iPhone video is among the compared: \(before)")

        // 0 changed pixels or samples: decode both with the reference decoders.
        var compared = 0
        for report in written {
            guard let original = try frames(report.input) else { continue }
            compared += 1
            XCTAssertEqual(original, try frames(report.output!), "decoded content differs for \(report.input)")
        }
        XCTAssertGreaterThan(compared, written.count * 9 / 10, "too few inputs decoded to judge the content")
    }

    func testEveryCorpusFileGoesThroughInspectAndAnythingElseIsRefused() throws {
        let corpus = try Fixtures.requireCorpus()
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()
            .filter { $0 != "SOURCES.tsv" }.map { corpus.appendingPathComponent($0) }
        XCTAssertGreaterThan(files.count, 110)
        let others = try corpusFiles(
            Set(MediaFormat.allCases).subtracting(CorpusTests.pictures.union(CorpusTests.phoneAndVideo)))
        XCTAssertGreaterThan(others.count, 0)
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for report in try strip(others, into: folder) {
            XCTAssertEqual(report.status, "refused", report.input)
            XCTAssertTrue(report.reason?.hasPrefix("unsupported format: ") ?? false, report.reason ?? "")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
        var readable = 0
        for file in files {
            // inspect reads every file (0) or names what is malformed (1); it never crashes or hangs.
            let outcome = try Fixtures.run(try Fixtures.consentgate, ["inspect", "--json", file.path], timeout: 60)
            XCTAssertTrue([0, 1].contains(outcome.status), "\(file.lastPathComponent): \(outcome.stderr)")
            let report = try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any]
            XCTAssertNotNil(report?["file_sha256"], file.lastPathComponent)
            XCTAssertEqual(outcome.status == 0, report?["error"] == nil, file.lastPathComponent)
            if outcome.status == 0 { readable += 1 }
        }
        XCTAssertGreaterThan(readable, files.count * 9 / 10)
    }

    func testInspectFindsWhatSOURCESSaysIsThere() throws {
        let corpus = try Fixtures.requireCorpus()
        let table = try String(contentsOf: corpus.appendingPathComponent("SOURCES.tsv"), encoding: .utf8)
        let rows = table.split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        guard let header = rows.first, let gps = header.firstIndex(of: "has_gps"),
            let xmp = header.firstIndex(of: "xmp"),
            let format = header.firstIndex(of: "format")
        else { return XCTFail("SOURCES.tsv has no has_gps/xmp/format columns") }
        var checked = 0
        for row in rows.dropFirst() where row.count > max(gps, xmp) && row[format] == "JPEG" {
            let bytes = try Fixtures.bytes(corpus.appendingPathComponent(row[0]))
            let report = Inspector.inspect(bytes)
            guard report.error == nil else { continue }
            if row[gps] == "yes" {
                // GPS in EXIF, or inside a vendor block (e.g. FLIR's APP1 records) reported and dropped whole.
                XCTAssertTrue(
                    report.metadata.contains { $0.family == "GPS" || $0.family.hasPrefix("APP") },
                    "\(row[0]): GPS not found")
            }
            if row[xmp] == "yes" {
                XCTAssertTrue(report.metadata.contains { $0.family == "XMP" }, "\(row[0]): XMP not found")
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 50)
        // Video and phone files: the position is found in boxes, Apple keys or the HEIF Exif item.
        var located = 0
        for row in rows.dropFirst()
        where row.count > gps && row[gps] == "yes" && ["HEIC", "MOV", "MP4"].contains(row[format]) {
            let report = try Inspector.inspect(path: corpus.appendingPathComponent(row[0]).path)
            XCTAssertNil(report.error, row[0])
            XCTAssertTrue(
                report.metadata.contains {
                    $0.family == "GPS" || $0.family == "Location" || $0.name.lowercased().contains("location")
                }, "\(row[0]): GPS not found")
            located += 1
        }
        XCTAssertGreaterThanOrEqual(located, 6)
    }
}
