import ByteKit

/// What was built from a picture before the common checks: the output bytes, the IFD0 Orientation written into
/// them (if any) and what was dropped, one line each.
typealias BuiltPicture = (output: [UInt8], orientation: Int?, removed: [String])

/// Everything ConsentGate does with one media format, behind one interface: recognising it, walking and inspecting
/// it, its two content fingerprints (in one pass), sanitizing it with its own verification, and decoding it to
/// check pixels. `MediaFile`, `Sanitizer`, `Inspector`, `Fingerprints`, `ImageCodec` and `Preview` ask
/// `format.handler` instead of switching over formats, so a new format is one folder holding its handler and one
/// line in `MediaFormat.handlers`.
///
/// Pictures (JPEG, PNG, WebP, GIF) are read whole, within the limits, and handled in memory: they conform through
/// `PictureFormatHandler`, which walks once and supplies the in-memory operations. The file-level operations
/// (what `MediaFile` calls) default to reading the file whole; ISO-BMFF media is read in place (a video may be many
/// gigabytes), so its handler implements those itself and refuses the in-memory ones.
protocol MediaFormatHandler: Sendable {
    /// The format this handler serves.
    var format: MediaFormat { get }
    /// The extension a published copy gets, without the dot ("jpg", "mp4"): the format, never the original name.
    var fileExtension: String { get }
    /// What a person calls such a file ("WebP picture", "video"); nil for what ConsentGate does not publish.
    var displayName: String? { get }
    /// True when a file starting with `head` (its first 32 bytes, or fewer) is of this format. `MediaFormat.sniff`
    /// asks the handlers in the order of `MediaFormat.handlers` and takes the first that says yes.
    func recognizes(_ head: [UInt8]) -> Bool
    /// True when files are read in place through their `FileSource` rather than whole (ISO-BMFF media).
    var readsInPlace: Bool { get }
    /// The reference library that reads and decodes the format (libjpeg, libpng); nil when none of ours does.
    var codec: ImageCodec.Library? { get }

    // MARK: In memory (a picture's bytes)

    /// Lists the structure and every metadata item into `report`, and sets its legacy `contentSHA256`.
    func inspect(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError)
    /// Both content fingerprints from one walk: `presented_sha256` as published with `options`, and definition 1's
    /// `content_sha256` (coded data only).
    func fingerprints(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError)
        -> (presented: String, content: String)
    /// The picture rebuilt from its allowlist and verified by this format's independent re-reading of the output.
    /// (`Sanitizer` then checks what every picture must keep: its presented fingerprint and, if asked, its pixels.)
    func sanitize(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> BuiltPicture
    /// Decodes the whole picture and returns its header and the SHA-256 of its pixels (the decode check).
    func decodeDigest(_ bytes: [UInt8], limits: MediaLimits) throws(MediaError)
        -> (header: ImageHeader, pixelSHA256: String)
    /// The EXIF Orientation a viewer applies to the picture, nil when it has none (previews turn pixels upright).
    func orientation(_ bytes: [UInt8]) -> Int?

    // MARK: A file (what `MediaFile` calls)

    /// `file_sha256`, `presented_sha256` and the legacy `content_sha256`, from one read of the file; with
    /// `hashingFile` false, `file_sha256` is left empty (one hash of the whole file fewer).
    func fingerprints(of file: MediaFile, hashingFile: Bool) throws(MediaError) -> Fingerprints
    /// The file's structure, metadata and fingerprints; what could not be read is the report's `error`.
    func inspect(_ file: MediaFile, limits: MediaLimits) -> InspectReport
    /// A verified sanitized copy written to `output`: a temporary name beside a final path, or a descriptor the
    /// caller opened (a sandboxed worker's output). Nil: only check that it can be made.
    /// `presentedCheckedByVerifier`: the caller has the copy re-read by another reader that compares what it
    /// presents with the input's fingerprint (`Sanitizer.sanitize`); only honoured with `.descriptor` output.
    func sanitize(
        _ file: MediaFile, to output: OutputTarget?, options: SanitizeOptions, knownContent: String?,
        presentedCheckedByVerifier: Bool
    ) throws(MediaError) -> SanitizedFile
    /// The independent re-reading of a sanitized copy, by a reader other than the one that wrote it: it must read
    /// as its format, hold no metadata but what `options` keep, present `expectedPresented` (when given) and, where
    /// the format keeps sizes, be `expectedSize` bytes. Returns what the copy presents (`presented_sha256`, read
    /// in this pass). `callerCompares`: the caller compares the returned value with the original's itself (video
    /// and HEIF copies are otherwise refused without `expectedPresented`). (Whoever records the copy's SHA-256
    /// computes it itself.)
    @discardableResult
    func verifySanitized(
        _ file: MediaFile, expectedPresented: String?, expectedSize: Int?, options: SanitizeOptions,
        callerCompares: Bool
    ) throws(MediaError) -> String
}

/// The defaults: no reference library, no orientation, and the file-level operations of a file read whole.
extension MediaFormatHandler {
    var readsInPlace: Bool { false }
    var codec: ImageCodec.Library? { nil }
    func orientation(_ bytes: [UInt8]) -> Int? { nil }

    func decodeDigest(_ bytes: [UInt8], limits: MediaLimits) throws(MediaError)
        -> (header: ImageHeader, pixelSHA256: String)
    {
        // No listed library decodes this format; fail closed rather than skip the check asked for.
        guard let codec else { throw noDecoder }
        return try codec.decodeDigest(bytes, limits: limits)
    }

    /// Why the decode check (`verify_decode`) cannot be made: no library of ours decodes this format.
    var noDecoder: MediaError {
        .unsupported("\(format.rawValue) cannot be fully decoded here (verify_decode needs libjpeg or libpng)")
    }

    func fingerprints(of file: MediaFile, hashingFile: Bool) throws(MediaError) -> Fingerprints {
        let bytes = try file.wholeBytes()
        if hashingFile { return try Fingerprints.compute(bytes) }
        let values = try fingerprints(bytes, options: .init())
        return Fingerprints(
            format: format, fileSHA256: "", presentedSHA256: values.presented, legacyContentSHA256: values.content)
    }

    func inspect(_ file: MediaFile, limits: MediaLimits) -> InspectReport {
        do {
            return Inspector.inspect(try file.wholeBytes(), limits: limits)
        } catch {
            var report = InspectReport(format: format, bytes: file.size, fileSHA256: "")
            report.error = "\(error)"
            return report
        }
    }

    @discardableResult
    func verifySanitized(
        _ file: MediaFile, expectedPresented: String?, expectedSize: Int?, options: SanitizeOptions,
        callerCompares: Bool
    ) throws(MediaError) -> String {
        // Without `expectedPresented` (options that drop the ICC profile or Orientation, or a caller that compares
        // the returned value itself) the writer or the caller compares the presentation.
        // The copy's file hash is nobody's business here: no pass for it.
        let report: InspectReport
        do { report = Inspector.inspect(try file.wholeBytes(), limits: options.limits, hashFile: false) } catch {
            throw .verificationFailed("the written copy does not read back: \(error)")
        }
        if let error = report.error { throw .verificationFailed("the written copy does not read back: \(error)") }
        let left = report.metadata.filter {
            !((options.keepOrientation && $0.name == "Orientation") || (options.keepICC && $0.family == "ICC"))
        }
        if let first = left.first {
            throw .verificationFailed("the written copy still holds metadata (\(first.family) \(first.name))")
        }
        // The inspection computed both fingerprints already (the fuzz oracle holds them equal to `fingerprints`):
        // no second pass over the copy.
        guard let presented = report.presentedSHA256 else {
            throw .verificationFailed("the written copy has no presented fingerprint")
        }
        if let expectedPresented, presented != expectedPresented {
            throw .verificationFailed("the written copy does not present what the original presents")
        }
        return presented
    }

    func sanitize(
        _ file: MediaFile, to output: OutputTarget?, options: SanitizeOptions, knownContent: String?,
        presentedCheckedByVerifier: Bool
    ) throws(MediaError) -> SanitizedFile {
        // The sanitizer checks the output against `knownContent` when the options keep what the picture presents,
        // against the input as published with the options otherwise; either way it returns what the output
        // presents, compared here with what the consent names without another pass over the output. A copy written
        // into a descriptor for a verifier that compares the presentation itself skips both (one walk and one hash
        // of the whole picture fewer); a copy written beside its name, or only checked, never does.
        let deferred: Bool
        if case .descriptor = output { deferred = presentedCheckedByVerifier } else { deferred = false }
        let clean = try Sanitizer.sanitize(
            try file.wholeBytes(), options: options, expectedPresented: knownContent,
            presentedCheckedByVerifier: deferred)
        if let knownContent, let presented = clean.presentedSHA256, presented != knownContent {
            throw .verificationFailed(
                "the published copy would present differently from the picture its consent names "
                    + "(presented_sha256): dropping its ICC profile or Orientation changes how it looks")
        }
        var result = SanitizedFile(
            format: clean.format, pending: nil, orientation: clean.orientation, removed: clean.removed,
            pixelSHA256: clean.pixelSHA256)
        switch output {
        case .beside(let destination):
            // Written and read back here (the commands' in-process path).
            let pending = try FileIO.writePending(clean.output, finalPath: destination)
            // What reached the disk must be what was verified.
            guard FileIO.fileEquals(atPath: pending.temporaryPath, clean.output) else {
                pending.discard()
                throw .io("the written file does not read back identically")
            }
            result.pending = pending
        case .descriptor(let fd):
            // The bytes were verified in memory; a different worker reads them back (`verifySanitized`), so no
            // second read here.
            try FileIO.write(clean.output, into: fd)
        case nil: break
        }
        return result
    }
}
