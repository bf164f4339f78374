import ArgumentParser
import ByteKit
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import MediaWorker
import Pipeline
import Sandbox
import Synchronization

struct Strip: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove identifying metadata losslessly (the pipeline's sanitizer), verifying every output.",
        discussion: """
            consentgate strip photo.jpg -o clean.jpg
            consentgate strip *.jpg *.png --output-dir clean/
            consentgate strip clip.mov IMG_0001.heic --output-dir clean/

            The output is rebuilt from an allowlist (SPEC §3): image data is copied byte for byte, never \
            re-encoded. EXIF Orientation and the ICC profile are kept unless told otherwise. Videos (MP4, MOV, \
            M4V, 3GP) and HEIC/HEIF/AVIF keep their size: metadata boxes become zeroed `free` boxes, capture \
            times are zeroed, metadata/text/timecode tracks and Exif/XMP items are dropped with their data, \
            and a video of any size is streamed, never loaded. Each output is re-read and verified before it \
            appears under its name; a refused file leaves nothing behind. \
            Files are processed on every core. Exit status: 0 all written and verified; 1 something refused \
            (reason on stderr); 2 usage error.
            """
    )

    @Argument(help: "Files to sanitize.")
    var files: [String]

    @Option(name: .shortAndLong, help: "Output file (with exactly one input).")
    var output: String?

    @Option(help: "Output folder; each file keeps its name.")
    var outputDir: String?

    @Flag(help: "Drop EXIF Orientation too (the picture may then show sideways).")
    var dropOrientation = false

    @Flag(help: "Drop the ICC colour profile too.")
    var dropICC = false

    @Flag(help: "Also decode input and output fully and require identical pixels.")
    var verifyDecode = false

    @Flag(help: "Replace existing output files.")
    var overwrite = false

    @Flag(help: "Print one JSON report for all files.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "The most hidden media a trimmed movie may keep (a video's lead-in from the key frame before its first shown frame), in seconds; 0 refuses any.",
            valueName: "SECONDS"))
    var maxHiddenLeadIn: Double = 2

    @OptionGroup var limitOptions: LimitOptions

    @OptionGroup var workerOptions: WorkerOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("Name at least one file.") }
        guard maxHiddenLeadIn.isFinite, maxHiddenLeadIn >= 0, maxHiddenLeadIn <= 60 else {
            throw ValidationError("--max-hidden-lead-in must be a number of seconds from 0 to 60.")
        }
        switch (output, outputDir) {
        case (nil, nil): throw ValidationError("Give -o OUT (one file) or --output-dir DIR.")
        case (.some, .some): throw ValidationError("Give either -o or --output-dir, not both.")
        case (.some, nil) where files.count != 1:
            throw ValidationError("-o takes exactly one input file; use --output-dir.")
        default: break
        }
        if let outputDir {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: outputDir, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("Output folder \(outputDir) does not exist.")
            }
            let names = files.map { ($0 as NSString).lastPathComponent }
            if Set(names).count != names.count {
                throw ValidationError("Two inputs share a file name; they would collide in \(outputDir).")
            }
        }
    }

    struct FileReport: Encodable {
        var input: String
        var output: String?
        var status: String
        var format: String?
        var fileSha256: String?
        var presentedSha256: String?
        var outputSha256: String?
        var orientation: Int?
        var removed: [String]?
        var reason: String?
    }

    func run() throws {
        let options = SanitizeOptions(
            keepOrientation: !dropOrientation, keepICC: !dropICC, verifyDecode: verifyDecode,
            limits: limitOptions.limits, maxHiddenLeadInSeconds: maxHiddenLeadIn)
        let jobs = files.map { file in
            (file, output ?? (outputDir! as NSString).appendingPathComponent((file as NSString).lastPathComponent))
        }
        // Every file is read by sandboxed workers: one that crashes or overruns costs its file, not the batch.
        // With fewer files than cores, one worker more: a file's verifier (never the worker that wrote the copy) can
        // start while its reader is still hashing the original (a big video). With more, the other files keep the
        // cores busy, and an extra worker only adds switching (200 pictures: 2.78 ± 0.36 s without it, 2.96 ±
        // 0.23 s with it).
        let cores = max(2, ProcessInfo.processInfo.activeProcessorCount)
        let media = try workerOptions.media(command: "strip", workers: cores + (jobs.count < cores ? 1 : 0))
        defer { media.shutdown() }
        let reports = Mutex([FileReport?](repeating: nil, count: jobs.count))
        let done = Mutex(0)
        let showProgress = Output.stderrIsTerminal && jobs.count > 1 && !json
        // Twice as many workers as cores: each file ends in an fsync that waits on the disk, and while one
        // worker waits another can parse and verify. The semaphore bounds how many files are in memory.
        let workers = max(2, ProcessInfo.processInfo.activeProcessorCount * 2)
        let slots = DispatchSemaphore(value: workers)
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "consentgate.strip", attributes: .concurrent)
        for index in jobs.indices {
            slots.wait()
            queue.async(group: group) {
                defer { slots.signal() }
                let (input, destination) = jobs[index]
                let report = Strip.process(
                    input, to: destination, options: options, overwrite: overwrite, fingerprints: json, media: media)
                reports.withLock { $0[index] = report }
                let finished = done.withLock { count -> Int in
                    count += 1
                    return count
                }
                if showProgress { Output.error("\rstrip: \(finished)/\(jobs.count)\u{1B}[K", terminator: "") }
            }
        }
        group.wait()
        if showProgress { Output.error("") }
        let all = reports.withLock { $0.compactMap { $0 } }
        if json {
            Output.json(all)
        } else {
            for report in all {
                if report.status == "written" {
                    print(
                        "written \(Escape.display(report.output ?? "")): \(report.format ?? ""), "
                            + "removed \(report.removed?.count ?? 0) structure(s)")
                    // A trimmed movie: what was cut and how much hidden media (lead-in) it keeps.
                    for line in report.removed ?? [] where line.contains("hidden") || line.contains("does not show trimmed") {
                        print("  \(Escape.display(line))")
                    }
                } else {
                    Output.error("refused \(Escape.display(report.input)): \(Escape.display(report.reason ?? ""))")
                }
            }
        }
        if all.contains(where: { $0.status != "written" }) { throw ExitCode(1) }
    }

    /// Sanitizes one file into `destination`; with `fingerprints`, also reports input and output hashes.
    static func process(
        _ input: String, to destination: String, options: SanitizeOptions, overwrite: Bool, fingerprints: Bool,
        media: MediaService
    ) -> FileReport {
        var report = FileReport(input: input, status: "refused")
        do throws(MediaServiceError) {
            // Files, not strings: an output that is the input through any link (to the file or to a folder on the
            // way) or another hard link to it would destroy the input.
            if FileIO.isSameFile(input, destination) {
                throw .refused(.io("the output is the input itself (the same file through another name); refused"))
            }
            // Never over a link, a device, a folder or (without --overwrite) a file: SPEC §6.
            if destination == "-" { throw .refused(.io("-o - : the clean copy goes to a file, not standard output")) }
            if let why = OutputFile.problem(destination, overwrite: overwrite) { throw .refused(.io(why)) }
            let source: FileSource
            do { source = try FileSource(path: input) } catch { throw .refused(error) }
            let output: (fd: Int32, pending: FileIO.PendingFile)
            do { output = try FileIO.openPending(finalPath: destination) } catch { throw .refused(error) }
            defer { close(output.fd) }
            // Options that drop a picture's ICC profile or Orientation change what it presents on purpose: the writer
            // then checks the output against the input as published with those options, and the verifier checks
            // only that no metadata is left (video and HEIF, which those options do not touch, are compared too).
            let keepsAll = options.keepICC && options.keepOrientation
            var prints: Fingerprints? = nil
            var outputSHA256: String? = nil
            let clean: SanitizeReading
            do throws(MediaServiceError) {
                // The input's fingerprints are taken by one reader; the writer (another request) must produce a copy
                // that presents them, and a third reading of the copy, by a worker other than the writer, checks that
                // it does: the writer's own word is never what its copy is checked against. When the options keep
                // what the picture presents, the writer needs nothing from the first reader and the verifier returns
                // what the copy presents for this process to compare: all three work as soon as their input exists
                // (a video's media is hashed by the reader while the writer copies it and the verifier reads the
                // copy). Without `--json` the input's file_sha256 is not reported: the reader skips that pass.
                let reader: OnThread<FingerprintReading>? =
                    keepsAll
                    ? OnThread { () throws(MediaServiceError) in
                        try media.fingerprints(source.fd, limits: options.limits, hashFile: fingerprints)
                    } : nil
                // Never leave (and close the descriptors) while a thread still uses them.
                defer { _ = reader?.wait() }
                if !keepsAll {
                    prints = try media.fingerprints(source.fd, limits: options.limits, hashFile: fingerprints)
                        .fingerprints
                }
                let sanitized = Result { () throws(MediaServiceError) -> (SanitizeReading, WorkerID?) in
                    try media.sanitize(
                        source.fd, into: output.fd, options: options, knownContent: nil,
                        presentedCheckedByVerifier: keepsAll)
                }
                // The writer does not sync (it never waits on the disk); this process does, before the rename, on a
                // thread of its own while the copy is verified: the disk writes while the verifier reads, and the copy
                // is renamed only once both have succeeded.
                var syncer: OnThread<Void>? = nil
                defer { _ = syncer?.wait() }
                // What the copy presents, as the verifier read it: reported only when this process compares it.
                var verified: Result<String?, MediaServiceError>? = nil
                if case .success(let (written, writer)) = sanitized {
                    syncer = OnThread { () throws(MediaServiceError) in
                        do throws(MediaError) { try FileIO.sync(output.fd) } catch { throw .refused(error) }
                    }
                    // Options that drop the ICC profile or Orientation change what a picture presents on purpose:
                    // the writer compared the presentation then, and only video and HEIF (which those options do not
                    // touch) are compared by the verifier with the reader's fingerprint (a video or HEIF copy without
                    // one is refused there, whatever format the writer says it wrote).
                    let isISO = written.format.isISOBMFF || prints?.format.isISOBMFF == true
                    let comparedWith = isISO ? prints?.presentedSHA256 : nil
                    verified = Result { () throws(MediaServiceError) -> String? in
                        let readOnly: Int32
                        do throws(MediaError) { readOnly = try FileIO.reopenReadOnly(output.fd) } catch {
                            throw .refused(error)
                        }
                        defer { close(readOnly) }
                        if keepsAll {
                            // Compared below with the reader's fingerprint, which may not be known yet.
                            return try media.verifyReporting(
                                readOnly, expectedSize: source.count, options: options, avoiding: writer)
                        }
                        try media.verify(
                            readOnly, expectedPresented: comparedWith, expectedSize: source.count, options: options,
                            avoiding: writer)
                        return nil
                    }
                }
                // Refusals in the order the steps depend on each other: the reader's, the writer's, the verifier's.
                if let reader { prints = try reader.wait().get().fingerprints }
                let written = try sanitized.get()
                clean = written.0
                let copyPresents = try verified!.get()
                if keepsAll {
                    guard let original = prints?.presentedSHA256, !original.isEmpty else {
                        throw .refused(.verificationFailed("the original has no presented fingerprint to compare with"))
                    }
                    guard let copyPresents, copyPresents == original else {
                        throw .refused(
                            .verificationFailed("the written copy does not present what the original presents"))
                    }
                }
                if fingerprints {
                    do { outputSHA256 = try FileSource(descriptor: output.fd).sha256() } catch { throw .refused(error) }
                }
                try syncer!.wait().get()
                do throws(PipelineError) { try OutputFile.commit(output.pending, overwrite: overwrite) } catch {
                    throw .refused(.io(error.message))
                }
            } catch {
                output.pending.discard()
                throw error
            }
            report.status = "written"
            report.output = destination
            report.format = clean.format.rawValue
            report.fileSha256 = fingerprints ? prints?.fileSHA256 : nil
            report.presentedSha256 = fingerprints ? prints?.presentedSHA256 : nil
            report.outputSha256 = outputSHA256
            report.orientation = clean.orientation
            report.removed = clean.removed
        } catch {
            report.reason = error.description
        }
        return report
    }
}

/// A blocking call on a thread of its own, waited for later. Not a Dispatch queue: every queue thread may already be
/// waiting for a worker, and the call would wait for a thread.
final class OnThread<Value: Sendable>: Sendable {
    private let result = Mutex<Result<Value, MediaServiceError>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws(MediaServiceError) -> Value) {
        Thread { [self] in
            let outcome = Result { () throws(MediaServiceError) -> Value in try work() }
            result.withLock { $0 = outcome }
            done.signal()
        }.start()
    }

    /// The call's result, once it has returned (any number of times).
    func wait() -> Result<Value, MediaServiceError> {
        done.wait()
        done.signal()
        return result.withLock { $0! }
    }
}
