import ByteKit
import ConsentRecords
import Foundation
import Logging
import MediaFormats
import MediaWorker

/// A file the runner holds in the work folder (claimed, recovered or released), on its way through the stages.
struct ClaimedFile: Sendable {
    var asset: String
    var path: RawPath
    /// The name it was dropped under (for its reason file only; never logged).
    var original: String
}

/// An item as it moves through inspect, decide and sanitize, ready for delivery at the end.
struct Processed: Sendable {
    var asset: String
    var claimed: RawPath
    var original: String
    var format: MediaFormat = .unknown
    /// The one open descriptor every later stage reads through (nil when the file could not be opened): handed to
    /// the workers, which read the bytes; this process never parses them.
    var source: FileSource? = nil
    var fingerprints: Fingerprints? = nil
    /// The people the reader saw (`people_check: faces`); nil with `declared`.
    var visible: VisiblePeople? = nil
    var faces: FaceReading? = nil
    var decision: ConsentDecision? = nil
    var reasons: [Reason] = []
    var sanitized: SanitizedFile? = nil
    /// Why the sanitized copy could not be written (I/O, not the file's fault): delivery leaves the file.
    var writeFailure: String? = nil
    /// Set when a stage has decided the file's fate already (nothing more to read).
    var finished = false

    init(_ claimed: ClaimedFile) {
        asset = claimed.asset
        self.claimed = claimed.path
        original = claimed.original
    }
}

/// Inspect (SPEC §2.3): open the file once (never through a link), refuse what is no picture or video, take both
/// fingerprints. Every later stage uses this one descriptor; the bytes are read by a sandboxed worker.
struct InspectStage: Sendable {
    let media: MediaService
    let limits: MediaLimits
    /// Count the faces too (`people_check: faces`).
    var faces: FaceOptions? = nil
    /// Called after the fingerprints are taken (tests use it to change a file while it is in hand).
    var afterFingerprints: (@Sendable () -> Void)? = nil
    var logger: Logger

    func callAsFunction(_ claimed: ClaimedFile) -> Processed {
        var item = Processed(claimed)
        // A large file mostly made of holes (`truncate -s 1T`) costs its writer nothing and its reader hours:
        // refused before a byte is read.
        var info = stat()
        if claimed.path.withCString({ lstat($0, &info) }) == 0, info.st_size > 64 << 20,
            Int64(info.st_blocks) * 512 < Int64(info.st_size) / 2
        {
            return item.finishing(
                .cannotSanitize, "it is a sparse file (\(info.st_size) bytes, mostly holes): not a real picture or video")
        }
        // Opened here, never through a link; read by a worker through this descriptor.
        let source: FileSource
        do { source = try FileSource(pathBytes: claimed.path.bytes, followLinks: false) } catch {
            return item.finishing(.unreadable, "cannot be read: \(error)")
        }
        item.source = source
        guard source.linkCount == 1 else {
            return item.finishing(
                .notARegularFile, "it has \(source.linkCount) names (a hard link made before the claim): never read")
        }
        guard source.count > 0 else { return item.finishing(.empty, "the file is empty") }
        // Pictures are read whole (within the limits); video and phone formats are read in place. An unparseable
        // file has only its file hash: only a record naming this exact file could match (and the sanitizer refuses
        // it anyway).
        let reading: FingerprintReading
        do throws(MediaServiceError) { reading = try media.fingerprints(source.fd, limits: limits, faces: faces) } catch {
            if case .readerFailed = error { return item.finishing(.readerFailed, error.description) }
            return item.finishing(.unreadable, "cannot be read: \(error)")
        }
        item.format = reading.format
        if reading.format == .unknown {
            item.reasons.append(
                Reason(
                    .notMedia,
                    "this is not a picture or video ConsentGate can read (JPEG, PNG, WebP, GIF, HEIC/AVIF, MP4/MOV/3GP)"))
        }
        item.fingerprints = reading.fingerprints
        if faces != nil { (item.visible, item.faces) = (VisiblePeople(reading), reading.faces) }
        afterFingerprints?()
        logger.debug("inspected", metadata: ["stage": "inspect", "asset": "\(item.asset)", "format": "\(item.format)"])
        return item
    }
}

/// Verify consent (SPEC §2.4, §5): a pure function of the fingerprints, the channel, the records and `now`.
struct DecideStage: Sendable {
    let channel: String
    let registry: Registry
    let now: Date
    var logger: Logger

    func callAsFunction(_ input: Processed) -> Processed {
        var item = input
        guard !item.finished else { return item }
        let decision = ConsentPolicy.decide(
            presentedSHA256: item.fingerprints?.presentedSHA256,
            legacyContentSHA256: item.fingerprints?.legacyContentSHA256, fileSHA256: item.fingerprints?.fileSHA256,
            channel: channel, registry: registry, now: Runner.decisionTime(after: now), newPublication: true,
            visible: registry.reviewed(
                item.visible, presentedSHA256: item.fingerprints?.presentedSHA256,
                fileSHA256: item.fingerprints?.fileSHA256))
        item.decision = decision
        item.reasons += decision.reasons.map(Reason.init)
        logger.debug(
            "decided",
            metadata: [
                "stage": "decide", "asset": "\(item.asset)", "approved": "\(decision.approved)",
                "reasons": "\(decision.reasons.map(\.code))",
            ])
        return item
    }
}

/// Sanitize (SPEC §2.5): for an approved file, a verified clean copy written as a temporary file in the publish
/// folder (delivery commits or discards it); for the rest only a check that it could be sanitized, so that all its
/// reasons are listed. Last, the snapshot check: a file whose size, mtime or ctime changed while in hand is refused.
struct SanitizeStage: Sendable {
    let media: MediaService
    let publish: String
    let options: SanitizeOptions
    /// With `dryRun`, the sanitizer only checks.
    let dryRun: Bool
    var logger: Logger

    func callAsFunction(_ input: Processed) -> Processed {
        var item = input
        guard !item.finished, let source = item.source else { return item }
        let approved = item.decision?.approved == true && item.reasons.isEmpty
        if item.format != .unknown {
            do throws(MediaServiceError) {
                if dryRun || !approved {
                    // Only whether it could be sanitized, so that all its reasons are listed (a dry run keeps what
                    // the sanitizer would do, with nothing written).
                    let (reading, _) = try media.sanitize(
                        source.fd, into: nil, options: options, knownContent: item.fingerprints?.presentedSHA256)
                    if approved {
                        item.sanitized = SanitizedFile(
                            format: reading.format, pending: nil, orientation: reading.orientation,
                            removed: reading.removed, pixelSHA256: reading.pixelSHA256)
                    }
                } else {
                    item.sanitized = try write(item, from: source)
                }
            } catch {
                switch error {
                case .refused(.io(let why)) where approved:
                    // A read or write failure (a full publish disk, say) is not the file's fault: delivery leaves
                    // the file claimed for the next run instead of quarantining it.
                    item.writeFailure = why
                case .readerFailed:
                    item.reasons.append(Reason(.readerFailed, error.description))
                default:
                    item.reasons.append(Reason(.cannotSanitize, "the sanitizer refuses it: \(error)"))
                }
            }
        }
        if let why = source.changeSinceOpened() {
            item.sanitized?.pending?.discard()
            item.sanitized = nil
            item.writeFailure = nil
            item.reasons.insert(Reason(.changed, why), at: 0)
        }
        if !item.reasons.isEmpty, let pending = item.sanitized?.pending {
            pending.discard()
            item.sanitized = nil
        }
        // The input's descriptor is not needed any more: delivery works on names.
        item.source = nil
        logger.debug(
            "sanitized",
            metadata: ["stage": "sanitize", "asset": "\(item.asset)", "written": "\(item.sanitized?.pending != nil)"])
        return item
    }
}

extension SanitizeStage {
    /// The verified copy: a temporary file in publish, created here, written by one worker, then re-inspected by
    /// another (no metadata left but what the options keep, the same presented fingerprint). Delivery commits it.
    func write(_ item: Processed, from source: FileSource) throws(MediaServiceError) -> SanitizedFile {
        let destination = publish + "/" + item.asset + "." + item.format.fileExtension
        let output: (fd: Int32, pending: FileIO.PendingFile)
        do { output = try FileIO.openPending(finalPath: destination) } catch { throw .refused(error) }
        defer { close(output.fd) }
        do throws(MediaServiceError) {
            // Without the inspecting worker's fingerprint of the original there is nothing to compare a copy with:
            // refused before anything is written.
            guard let expected = item.fingerprints?.presentedSHA256, !expected.isEmpty else {
                throw .refused(.verificationFailed("the original has no presented fingerprint to compare with"))
            }
            // The verifier below compares the copy with `expected`: the writer need not compare it too (with options
            // that keep what a picture presents; with others it still does).
            let (reading, writer) = try media.sanitize(
                source.fd, into: output.fd, options: options, knownContent: expected,
                presentedCheckedByVerifier: true)
            // Delivery syncs the copy later, with its batch; the disk can start on it while it is verified.
            FileIO.startWriteback(output.fd)
            // The verifier gets the copy read-only; the writer has closed its descriptor (the pool kills a worker
            // that keeps one), so nothing can change the copy after this check.
            let readOnly: Int32
            do { readOnly = try FileIO.reopenReadOnly(output.fd) } catch { throw .refused(error) }
            defer { close(readOnly) }
            // The verifier's own SHA-256 of the copy is not asked for: the copy cannot change after the writer
            // closed it (this process only reads it), and a verifier that lies about the metadata could report the
            // right hash anyway, so comparing the two would cost a pass and prove nothing.
            try media.verify(
                readOnly, expectedPresented: expected, expectedSize: source.count, options: options, avoiding: writer)
            // The hash the ledger records is this process's own reading of the verified copy (hashing is not
            // parsing).
            let hash: String
            do { hash = try FileSource(descriptor: readOnly).sha256() } catch { throw .refused(error) }
            var sanitized = SanitizedFile(
                format: reading.format, pending: output.pending, orientation: reading.orientation,
                removed: reading.removed, pixelSHA256: reading.pixelSHA256)
            sanitized.outputSHA256 = hash
            return sanitized
        } catch {
            output.pending.discard()
            throw error
        }
    }
}

extension Processed {
    /// This item with one reason that decides its fate before any further stage reads it.
    fileprivate func finishing(_ code: ReasonCode, _ message: String) -> Processed {
        var item = self
        item.reasons.append(Reason(code, message))
        item.finished = true
        return item
    }
}

/// The three CPU stages of one pipeline run, as the runner wires them (each on its own queue).
struct Stages: Sendable {
    var inspect: InspectStage
    var decide: DecideStage
    var sanitize: SanitizeStage

    init(
        config: PipelineConfig, registry: Registry, now: Date, dryRun: Bool = false, media: MediaService = .inProcess,
        logger: Logger = Logger(label: "consentgate.pipeline")
    ) {
        inspect = InspectStage(
            media: media, limits: config.sanitize.limits, faces: config.people.faceOptions, logger: logger)
        decide = DecideStage(channel: config.channel, registry: registry, now: now, logger: logger)
        sanitize = SanitizeStage(
            media: media, publish: config.publish, options: config.sanitize, dryRun: dryRun, logger: logger)
    }

    /// All three in a row on the calling thread (tests, and `check`-like callers that need no queues).
    func process(_ claimed: ClaimedFile) -> Processed { sanitize(decide(inspect(claimed))) }

    func process(asset: String, path: RawPath, original: String) -> Processed {
        process(ClaimedFile(asset: asset, path: path, original: original))
    }

    /// Called after the fingerprints are taken (tests use it to change a file while it is in hand).
    var afterFingerprints: (@Sendable () -> Void)? {
        get { inspect.afterFingerprints }
        set { inspect.afterFingerprints = newValue }
    }
}
