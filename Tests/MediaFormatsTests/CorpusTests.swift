import Foundation
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

    /// exiftool's reading of Orientation and of the ICC profile, per file.
    func orientationAndICC(_ paths: [String]) throws -> [String: String] {
        let exiftool = try Fixtures.requireTool("exiftool")
        let outcome = try Fixtures.run(
            exiftool, ["-j", "-n", "-G1", "-IFD0:Orientation", "-ICC_Profile:all", "-ICC-header:all"] + paths)
        let records = try JSONSerialization.jsonObject(with: outcome.stdout) as? [[String: Any]] ?? []
        var result: [String: String] = [:]
        for record in records {
            let path = record["SourceFile"] as? String ?? ""
            let fields = record.filter { $0.key != "SourceFile" }.map { "\($0.key)=\($0.value)" }.sorted()
            result[path] = fields.joined(separator: "; ")
        }
        return result
    }

    /// Decoded frames as ffmpeg sees them, without applying rotation. Nil when ffmpeg cannot decode.
    func frames(_ path: String) throws -> String? {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        let outcome = try Fixtures.run(ffmpeg, ["-v", "error", "-noautorotate", "-i", path, "-f", "framemd5", "-"])
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
        case .webp, .gif:
            let ffmpeg = try Fixtures.requireTool("ffmpeg")
            return try Fixtures.run(ffmpeg, ["-v", "error", "-xerror", "-i", url.path, "-f", "null", "-"]).status == 0
        default:
            return false
        }
    }

    static let supported: Set<MediaFormat> = [.jpeg, .png, .webp, .gif]

    func testEverySupportedFileIsWrittenCleanOrRefusedLikeTheReferenceDecoder() throws {
        let files = try corpusFiles(CorpusTests.supported)
        XCTAssertGreaterThan(files.count, 80)
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
        XCTAssertGreaterThan(written.count, 65)
        // No leftover files, temporary or otherwise.
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(left.count, written.count, "stray files in the output folder: \(left.sorted())")

        // 0 leaks, as the outside judge sees it.
        let leakcheck = try Fixtures.requireTool("exiftool") == "" ? "" : Fixtures.leakcheck.path
        let outputs = written.compactMap(\.output)
        let leaks = try Fixtures.run("/usr/bin/env", ["python3", leakcheck] + outputs)
        XCTAssertEqual(leaks.status, 0, "leakcheck: \(leaks.text)\(leaks.stderr)")

        // Orientation and ICC as in the input.
        let before = try orientationAndICC(written.map(\.input))
        let after = try orientationAndICC(outputs)
        for report in written {
            XCTAssertEqual(before[report.input], after[report.output!], "orientation/ICC changed for \(report.input)")
        }

        // 0 changed pixels: decode both with ffmpeg.
        var compared = 0
        for report in written {
            guard let original = try frames(report.input) else { continue }
            compared += 1
            XCTAssertEqual(original, try frames(report.output!), "decoded pixels differ for \(report.input)")
        }
        XCTAssertGreaterThan(compared, written.count * 9 / 10, "ffmpeg decoded too few inputs to judge pixels")
    }

    func testEveryOtherCorpusFileIsRefusedCleanlyByStripAndInspect() throws {
        let files = try corpusFiles(Set(MediaFormat.allCases).subtracting(CorpusTests.supported))
        XCTAssertGreaterThan(files.count, 20)
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for report in try strip(files, into: folder) {
            XCTAssertEqual(report.status, "refused", report.input)
            XCTAssertTrue(report.reason?.hasPrefix("unsupported format: ") ?? false, report.reason ?? "")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
        var readable = 0
        for file in files {
            // inspect reads the box tree of video and phone formats (0), or names what is malformed (1).
            let outcome = try Fixtures.run(try Fixtures.consentgate, ["inspect", "--json", file.path], timeout: 60)
            XCTAssertTrue([0, 1].contains(outcome.status), "\(file.lastPathComponent): \(outcome.stderr)")
            let report = try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any]
            XCTAssertNotNil(report?["file_sha256"], file.lastPathComponent)
            XCTAssertEqual(outcome.status == 0, report?["error"] == nil, file.lastPathComponent)
            if outcome.status == 0 { readable += 1 }
        }
        XCTAssertGreaterThan(readable, files.count / 2)
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
    }
}
