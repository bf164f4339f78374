import ArgumentParser
import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import MediaWorker
import Pipeline

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "May this picture be posted? The verdict, the records that match, the metadata found. Changes nothing.",
        discussion: """
            consentgate check photo.jpg --channel instagram --authorizations /srv/share/authorizations \\
                --trust /etc/consentgate/trust.yml

            Publishable only when a valid authorization covers the picture on this channel (SPEC §5) and the \
            sanitizer can clean it. Every reason that applies is listed. Exit status: 0 publishable; 1 would be \
            quarantined; 2 error (unreadable file, bad trust file or folder).
            """)

    @Argument(help: "The picture or video to check.") var file: String
    @Option(help: "A pipeline file: its channel, authorizations and trust file are used.") var pipeline: String?
    @Option(help: "The channel to publish on (website, facebook, instagram, print...).") var channel: String?
    @OptionGroup var sources: RecordSources

    @OptionGroup var workerOptions: WorkerOptions

    @Flag(help: "With --output: replace an existing file.") var overwrite = false
    @Option(
        help: ArgumentHelp(
            "The most hidden media a trimmed movie may keep, in seconds (default 2, or the pipeline's max_hidden_lead_in_seconds); 0 refuses any.",
            valueName: "SECONDS"))
    var maxHiddenLeadIn: Double?

    func validate() throws {
        if let bound = maxHiddenLeadIn, !(bound.isFinite && bound >= 0 && bound <= 60) {
            throw ValidationError("--max-hidden-lead-in must be a number of seconds from 0 to 60.")
        }
        if output != nil && sources.asOf != nil {
            throw ValidationError(
                "--output writes a copy to post now: it cannot be combined with --as-of (an audit of another moment).")
        }
        // A copy ready to post is judged exactly as `run` judges: with the pipeline's ledger (remembered revocations,
        // when each record was first seen). Without a pipeline, check gives a verdict and writes nothing.
        if output != nil && pipeline == nil {
            throw ValidationError(
                "--output needs --pipeline P.yml: a copy to post is judged as `run` judges it, with the pipeline's "
                    + "ledger (revocations it remembers, when each record was first seen). Without --pipeline, check "
                    + "only gives the verdict.")
        }
        if pipeline == nil && (channel == nil || sources.authorizations == nil || sources.trust == nil) {
            throw ValidationError("Give --pipeline P.yml, or --channel C --authorizations DIR --trust FILE.")
        }
        if pipeline != nil && (channel != nil || sources.authorizations != nil || sources.trust != nil) {
            throw ValidationError("--pipeline takes the channel, authorizations and trust from the pipeline file.")
        }
    }
    @Flag(help: "Print the verdict as JSON.") var json = false
    @Option(
        help: ArgumentHelp(
            "When the verdict is publishable, also write the sanitized copy here (nothing is written otherwise).",
            valueName: "CLEAN"))
    var output: String?

    struct Report: Encodable {
        var publishable: Bool
        var channel: String
        var format: String
        var fileSha256: String
        var presentedSha256: String?
        var reasons: [Reason]
        var recordsUsed: [String]
        var recordsMatching: [String]
        var metadataFound: [MetadataItem]
        var sanitizer: String
        /// The faces found and the people count the decision used (issue #24).
        var people: CheckPeople

        var written: String?

        struct Reason: Encodable {
            var code: String
            var message: String
            var whatToDo: String
        }
    }

    func run() throws {
        let now = try sources.moment()
        let source: FileSource
        do { source = try FileSource(path: file) } catch {
            Output.error("check: \(Escape.display("\(error)"))")
            throw ExitCode(2)
        }
        // The file's bytes are read by sandboxed workers only.
        let media = try workerOptions.media(command: "check", workers: 2)
        defer { media.shutdown() }
        var fallback: (authorizations: String, trust: String)? = nil
        var zone: TimeZone? = nil
        var channel = self.channel ?? ""
        var sanitizeOptions = SanitizeOptions()
        var pipelineConfig: PipelineConfig? = nil
        if let pipeline {
            do {
                let config = try PipelineConfig.load(path: pipeline)
                pipelineConfig = config
                fallback = (config.authorizations, config.trust)
                zone = config.timeZone
                channel = config.channel
                sanitizeOptions = config.sanitize
            } catch {
                Output.error("check: \(error)")
                throw ExitCode(2)
            }
        }
        if let maxHiddenLeadIn { sanitizeOptions.maxHiddenLeadInSeconds = maxHiddenLeadIn }
        // With a pipeline, its records as `run` sees them: the ledger's first sightings and remembered revocations.
        let registry: Registry
        if let config = pipelineConfig, sources.authorizations == nil, sources.trust == nil {
            do {
                let ledger = try LedgerStores.openIfPresent(config)
                defer { ledger?.disconnect() }
                let trust: TrustStore
                do { trust = try TrustStore.load(path: config.trust) } catch {
                    throw PipelineError("\(config.trust): \(error)")
                }
                registry = try PipelineRecords.load(config: config, trust: trust, ledger: ledger, now: now)
            } catch {
                Output.error("check: \(Escape.display("\(error)"))")
                throw ExitCode(2)
            }
        } else {
            registry = try sources.registry(now: now, command: "check", fallback: fallback, fallbackTimeZone: zone)
        }
        let inspection: InspectReport
        do { inspection = try media.inspect(source.fd) } catch {
            // A reader that fails twice on it: never publishable.
            print("NOT PUBLISHABLE on \(channel) (would be quarantined)")
            print("  - \(error)")
            print("    what to do: \(ReasonCode.readerFailed.advice)")
            throw ExitCode(1)
        }
        // The people in it, as a pipeline counts them (its people_check; faces without a pipeline).
        let peopleCheck = pipelineConfig?.people ?? PeopleCheck()
        let faces = peopleCheck.faceOptions.map {
            FacesReport(media: media, source: source, limits: sanitizeOptions.limits, minFacePixels: $0.minFacePixels)
        }
        let decision = ConsentPolicy.decide(
            presentedSHA256: inspection.presentedSHA256, legacyContentSHA256: inspection.legacyContentSHA256,
            fileSHA256: inspection.fileSHA256, channel: channel, registry: registry, now: now, newPublication: true,
            visible: registry.reviewed(
                faces.map { $0.visible(format: inspection.format) }, presentedSHA256: inspection.presentedSHA256,
                fileSHA256: inspection.fileSHA256))
        var reasons = decision.reasons.map(Reason.init).map {
            Report.Reason(code: $0.code.rawValue, message: $0.message, whatToDo: $0.code.advice)
        }
        let sanitizer: String
        do {
            // As the pipeline does: the copy must present what the records name (options that drop an ICC
            // profile or Orientation refuse such a picture).
            let (reading, _) = try media.sanitize(
                source.fd, into: nil, options: sanitizeOptions, knownContent: inspection.presentedSHA256)
            // A trimmed movie says how much hidden media it keeps (its lead-in) and what it cuts.
            let trims = reading.removed.filter { $0.contains("hidden") || $0.contains("does not show trimmed") }
            sanitizer = "can be sanitized" + (trims.isEmpty ? "" : " (" + trims.joined(separator: "; ") + ")")
        } catch {
            sanitizer = error.description
            reasons.append(
                .init(
                    code: ReasonCode.cannotSanitize.rawValue, message: "the sanitizer refuses it: \(error)",
                    whatToDo: ReasonCode.cannotSanitize.advice))
        }
        let publishable = decision.approved && reasons.isEmpty
        // The coordinator's clean copy: only when publishable, verified like the pipeline's, never over the input.
        var written: String? = nil
        if publishable, let output {
            do throws(MediaServiceError) {
                if FileIO.isSameFile(file, output) { throw .refused(.io("the output is the input itself")) }
                // Never into the pipeline's own places (a copy in publish is a stranger, one over the ledger or a
                // record destroys them), never over a link, a device or a file without --overwrite.
                if output == "-" { throw .refused(.io("--output - : the clean copy goes to a file, not standard output")) }
                if let why = OutputFile.problem(output, overwrite: overwrite, pipelines: pipelineConfig.map { [$0] } ?? []) {
                    throw .refused(.io(why))
                }
                let target: (fd: Int32, pending: FileIO.PendingFile)
                do { target = try FileIO.openPending(finalPath: output) } catch { throw .refused(error) }
                defer { close(target.fd) }
                do throws(MediaServiceError) {
                    let (_, writer) = try media.sanitize(
                        source.fd, into: target.fd, options: sanitizeOptions, knownContent: inspection.presentedSHA256)
                    let readOnly: Int32
                    do { readOnly = try FileIO.reopenReadOnly(target.fd) } catch { throw .refused(error) }
                    defer { close(readOnly) }
                    try media.verify(
                        readOnly, expectedPresented: inspection.presentedSHA256, expectedSize: source.count,
                        options: sanitizeOptions, avoiding: writer)
                    do { try FileIO.sync(target.fd) } catch { throw .refused(error) }
                    do throws(PipelineError) { try OutputFile.commit(target.pending, overwrite: overwrite) } catch {
                        throw .refused(.io(error.message))
                    }
                } catch {
                    target.pending.discard()
                    throw error
                }
                written = output
            } catch {
                Output.error("check: cannot write \(Escape.display(output)): \(Escape.display(error.description))")
                throw ExitCode(2)
            }
        }
        let report = Report(
            publishable: publishable, channel: channel, format: inspection.format.rawValue,
            fileSha256: inspection.fileSHA256,
            presentedSha256: inspection.presentedSHA256, reasons: reasons, recordsUsed: decision.usedRecords,
            recordsMatching: decision.matchingRecords, metadataFound: inspection.metadata, sanitizer: sanitizer,
            people: CheckPeople(faces: faces, decision: decision, check: peopleCheck), written: written)
        if json {
            Output.json(report)
        } else {
            print(publishable ? "PUBLISHABLE on \(channel)" : "NOT PUBLISHABLE on \(channel) (would be quarantined)")
            // Reasons quote record files and fields: printed escaped, one line each.
            for reason in reasons {
                print("  - \(Escape.display(reason.message))")
                print("    what to do: \(reason.whatToDo)")
            }
            if !decision.usedRecords.isEmpty {
                print("records used: \(decision.usedRecords.map(Escape.display).joined(separator: ", "))")
            }
            if !decision.matchingRecords.isEmpty {
                print("records matching: \(decision.matchingRecords.map(Escape.display).joined(separator: ", "))")
            }
            print("format: \(report.format); presented_sha256: \(report.presentedSha256 ?? "(unknown)")")
            if sanitizer.hasPrefix("can be sanitized (") {
                print("sanitizer: \(Escape.display(sanitizer))")
            }
            for line in report.people.lines { print(line) }
            // What publishing keeps (Orientation, the ICC profile, as the options say) and what it removes.
            func kept(_ item: MetadataItem) -> Bool {
                (sanitizeOptions.keepOrientation && item.name == "Orientation")
                    || (sanitizeOptions.keepICC && item.family == "ICC")
            }
            let removed = inspection.metadata.filter { !kept($0) }
            let keptItems = inspection.metadata.filter(kept)
            print("metadata found: \(inspection.metadata.count) item(s); removed on publishing: \(removed.count)")
            for family in Dictionary(grouping: removed, by: \.family).sorted(by: { $0.key < $1.key }) {
                print("  \(family.key): \(family.value.count)")
            }
            if !keptItems.isEmpty {
                print(
                    "kept on publishing (needed to show it right): "
                        + keptItems.map { "\($0.family) \($0.name)" }.joined(separator: ", "))
            }
            if let written { print("written the sanitized copy to \(Escape.display(written))") }
        }
        if !publishable { throw ExitCode(1) }
    }
}
