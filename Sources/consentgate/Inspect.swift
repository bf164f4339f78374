import ByteKit
import ArgumentParser
import ConsentRecords
import MediaFormats
import MediaWorker

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a file's format, structure, every metadata item in it, and its fingerprints.",
        discussion: """
            The format is detected from the bytes, never from the name. Metadata values are shown as found: \
            the output may contain personal data, so do not paste it into tickets or logs. \
            Exit status: 0 read fully; 1 unreadable, malformed or unsupported; 2 usage error.
            """
    )

    @Argument(help: "The file to inspect.")
    var file: String

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: "Count faces whose box is at least this many pixels a side (the pipeline's min_face_pixels).")
    var minFacePixels: Int = FaceOptions.defaultMinFacePixels

    @OptionGroup var limitOptions: LimitOptions

    @OptionGroup var workerOptions: WorkerOptions

    func run() throws {
        let report: InspectReport
        var faces = FacesReport(faces: nil, notCounted: nil)
        do {
            let source = try FileSource(path: file)
            // The bytes are read by a sandboxed worker only.
            let media = try workerOptions.media(command: "inspect", workers: 1)
            defer { media.shutdown() }
            report = try media.inspect(source.fd, limits: limitOptions.limits)
            faces = FacesReport(media: media, source: source, limits: limitOptions.limits, minFacePixels: minFacePixels)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.error("inspect: \(error)")
            throw ExitCode(1)
        }
        if json {
            Output.json(InspectWithFaces(report: report, faces: faces))
        } else {
            print(render(report) + "\n" + faces.lines.joined(separator: "\n"))
        }
        if report.error != nil { throw ExitCode(1) }
    }

    func render(_ report: InspectReport) -> String {
        var lines = ["file: \(file)", "format: \(report.format.rawValue), \(report.bytes) bytes"]
        if let image = report.image {
            lines.append(
                "image: \(image.width)x\(image.height), \(image.components) components, \(image.bitDepth) bits")
        }
        lines.append("file_sha256: \(report.fileSHA256)")
        lines.append("presented_sha256: \(report.presentedSHA256 ?? "(unknown)")")
        // Definition 1, which old records name: shown to find a record to re-record, never matched.
        lines.append("legacy_content_sha256 (old definition, matches no record): \(report.legacyContentSHA256 ?? "(unknown)")")
        if !report.structure.isEmpty {
            lines.append("structure:")
            for entry in report.structure {
                lines.append(
                    "  @\(entry.offset)  \(Escape.display(entry.name))  \(entry.length) bytes"
                        + (entry.detail.map { "  (\(Escape.display($0)))" } ?? ""))
            }
        }
        lines.append("metadata: \(report.metadata.count) item(s)")
        for item in report.metadata {
            // Names and values come from the file: escaped, so that no value can print a line of its own.
            var line = "  [\(Escape.display(item.family))] \(Escape.display(item.name))"
            if let value = item.value { line += " = \(Escape.display(value))" }
            if let size = item.bytes { line += " (\(size) bytes)" }
            lines.append(line)
        }
        for warning in report.warnings { lines.append("warning: \(Escape.display(warning))") }
        if let error = report.error { lines.append("error: \(Escape.display(error))") }
        return lines.joined(separator: "\n")
    }
}
