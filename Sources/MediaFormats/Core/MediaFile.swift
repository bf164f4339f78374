import ByteKit

/// A sanitized file written under a temporary name and verified; `pending` is nil when nothing was to be
/// written (a dry run).
public struct SanitizedFile: Sendable {
    public var format: MediaFormat
    public var pending: FileIO.PendingFile?
    /// IFD0 Orientation written into the output, if any (pictures).
    public var orientation: Int?
    /// What was dropped, one line each (structure names and offsets, never values).
    public var removed: [String]
    /// SHA-256 of the decoded pixels, with `verifyDecode`.
    public var pixelSHA256: String?
    /// The verified copy's SHA-256 as the pipeline read it (the ledger's `published_sha256`), so delivery need not
    /// read it again.
    public var outputSHA256: String? = nil

    public init(
        format: MediaFormat, pending: FileIO.PendingFile?, orientation: Int?, removed: [String],
        pixelSHA256: String? = nil
    ) {
        self.format = format
        self.pending = pending
        self.orientation = orientation
        self.removed = removed
        self.pixelSHA256 = pixelSHA256
    }
}

/// One media file on disk, opened once: pictures are read whole (within the limits), ISO-BMFF video and phone
/// formats are read in place, so a multi-gigabyte video never lives in memory. The entry point for the
/// commands and the pipeline: fingerprints, inspect and sanitize, whatever the format.
public struct MediaFile: Sendable {
    public let format: MediaFormat
    public let size: Int
    /// A picture's bytes, read whole; nil for ISO-BMFF media, read in place through `source`.
    let bytes: [UInt8]?
    /// Kept open for every format: ISO-BMFF media is read through it, and it tells whether the file changed.
    let source: FileSource

    public init(path: String, followLinks: Bool = true, limits: MediaLimits = .init()) throws(MediaError) {
        try self.init(pathBytes: Array(path.utf8), followLinks: followLinks, limits: limits)
    }

    /// `followLinks: false` refuses a symbolic link instead of following it (the pipeline's reads).
    public init(pathBytes: [UInt8], followLinks: Bool = true, limits: MediaLimits = .init()) throws(MediaError) {
        try self.init(source: try FileSource(pathBytes: pathBytes, followLinks: followLinks), limits: limits)
    }

    /// A file already open (a sandboxed worker is handed descriptors, never paths).
    public init(source: FileSource, limits: MediaLimits = .init()) throws(MediaError) {
        size = source.count
        format = MediaFormat.sniff(try source.read(0..<min(32, source.count)))
        self.source = source
        if format.handler.readsInPlace {
            bytes = nil
        } else {
            guard source.count <= limits.maxFileBytes else {
                throw .limitExceeded("the file is \(source.count) bytes, over the limit of \(limits.maxFileBytes)")
            }
            bytes = try source.read(0..<source.count)
        }
    }

    /// Nil when the file still has the size, modification time and status-change time (to the nanosecond) it had
    /// right after it was opened; otherwise a short sentence saying it changed. Call it after the work on the file
    /// is done: a writer that changed it meanwhile makes what was read (fingerprints, sanitized copy) untrustworthy.
    public func changedSinceOpened() -> String? { source.changeSinceOpened() }

    /// How many names the open file has (fstat on the descriptor): the pipeline reads only files with one, since
    /// a second name is a way to change the bytes while they are in hand.
    public var linkCount: Int { source.linkCount }

    /// Both fingerprints, from one read of the file (pictures are read whole once; ISO-BMFF media in one
    /// sequential pass, see `ISOMedia.fingerprints`).
    public func fingerprints() throws(MediaError) -> Fingerprints { try fingerprints(hashingFile: true) }

    /// The same, without `file_sha256` when `hashingFile` is false (its `fileSHA256` is then empty, and a movie's or
    /// HEIF's `legacyContentSHA256` nil): for a caller that uses only the presented fingerprint (`strip` without
    /// `--json`, a review record), one hash of the whole file fewer, and of a filtered video stream's raw bytes.
    public func fingerprints(hashingFile: Bool) throws(MediaError) -> Fingerprints {
        try format.handler.fingerprints(of: self, hashingFile: hashingFile)
    }

    /// SHA-256 of the file's bytes.
    public func fileSHA256() throws(MediaError) -> String {
        if let bytes { return sha256Hex(bytes) }
        return try source.sha256()
    }

    /// The file's structure, metadata and fingerprints (`InspectReport`); never throws, the report says what failed.
    public func inspect(limits: MediaLimits = .init()) -> InspectReport { format.handler.inspect(self, limits: limits) }

    /// Sanitizes into a verified temporary file beside `destination` (commit it to make it appear), or, with
    /// `destination` nil, only checks that the file can be sanitized. `knownContent` is the input's
    /// `presented_sha256` as records name it (default options) when the caller has computed it: the output must
    /// present exactly that, so options that drop a picture's ICC profile or Orientation refuse the picture rather
    /// than publish it changed (for video it also saves a second pass over the media).
    public func sanitize(to destination: String?, options: SanitizeOptions = .init(), knownContent: String? = nil)
        throws(MediaError) -> SanitizedFile
    {
        try sanitize(into: destination.map { .beside(finalPath: $0) }, options: options, knownContent: knownContent)
    }

    /// The same into any `OutputTarget`: with `.descriptor`, the verified copy is written into that open file (a
    /// sandboxed worker's output, created by the process that commits it) and `pending` stays nil.
    ///
    /// `presentedCheckedByVerifier` (with `.descriptor` only): the caller has the copy re-read by another reader that
    /// compares what it presents with the input's `presented_sha256` (`verifySanitized(expectedPresented:)`), so the
    /// writer does not compute the copy's fingerprint for the same comparison (see `Sanitizer.sanitize`).
    public func sanitize(
        into output: OutputTarget?, options: SanitizeOptions = .init(), knownContent: String? = nil,
        presentedCheckedByVerifier: Bool = false
    ) throws(MediaError) -> SanitizedFile {
        try format.handler.sanitize(
            self, to: output, options: options, knownContent: knownContent,
            presentedCheckedByVerifier: presentedCheckedByVerifier)
    }

    /// The independent re-reading of a sanitized copy (this file) by a reader that did not write it: no metadata but
    /// what `options` keep, the original's presented fingerprint (when given) and, for formats that keep sizes, its
    /// size. Returns what the copy presents (`presented_sha256`); not its file SHA-256: whoever records that computes
    /// it itself.
    /// `callerCompares`: the caller compares the returned value with the original's fingerprint itself; without
    /// it, a video or HEIF copy needs `expectedPresented`.
    @discardableResult
    public func verifySanitized(
        expectedPresented: String?, expectedSize: Int?, options: SanitizeOptions, callerCompares: Bool = false
    ) throws(MediaError) -> String {
        try format.handler.verifySanitized(
            self, expectedPresented: expectedPresented, expectedSize: expectedSize, options: options,
            callerCompares: callerCompares)
    }

    /// The bytes read when the file was opened; only formats read in place (whose handlers never ask) have none.
    func wholeBytes() throws(MediaError) -> [UInt8] {
        guard let bytes else { throw .unsupported("\(format.rawValue) is read in place, not whole") }
        return bytes
    }
}
