import ByteKit
import ConsentRecords
import Foundation
import MediaWorker

#if canImport(Glibc)
    import Glibc
#endif

/// What the privacy office's app reads (`review --export DIR`, and the pipeline's `office_export:` after each run):
/// `cards.json` (one card per quarantined file: reasons, what cures it, who can act and the command, fingerprints,
/// the channel, who has consented and how many are missing) and `previews/ASSET.jpg`, made fresh from the pixels by
/// a sandboxed worker (no metadata). Never an original's bytes. Files 0640, folders 0750, for an office group.
///
/// The folder is ConsentGate's own: made by the first export (with a `.consentgate-office-export` marker); an
/// existing folder is written into only when it is empty or carries that marker, and only regular files with one
/// link are replaced (OutputFile), so nothing the command did not write is replaced or removed.
public enum OfficeExport {
    public static let format = "consentgate.office-export/v1"
    static let marker = ".consentgate-office-export"

    public struct Card: Sendable, Encodable {
        public struct Reason: Sendable, Encodable {
            public var code: String
            public var words: String
            public var message: String
            public var whatToDo: String
        }
        public var asset: String
        public var originalName: String
        public var subfolder: String
        public var quarantinedAt: String
        public var ageDays: Int
        /// "pending" (a record can cure it; every run checks it again) or "person".
        public var status: String
        public var pendingUntil: String?
        public var notPendingBecause: String?
        public var reasons: [Reason]
        public var action: OfficeCards.Action
        public var presentedSHA256: String?
        public var fileSHA256: String?
        public var channel: String
        /// Who has consented (nil when the records cannot be verified now, or the file has no fingerprint).
        public var consent: ConsentStanding?
        /// Faces the detector found when the picture was quarantined (nil: not counted), so the office app decides
        /// with them as the next run will.
        public var facesFound: Int?
        /// `previews/ASSET.jpg`, or nil with `previewLabel` saying why there is none.
        public var preview: String?
        public var previewLabel: String?
    }

    public struct Export: Sendable, Encodable {
        public var format: String
        public var pipeline: String
        public var channel: String
        public var madeAt: String
        public var pendingDays: Int
        /// Why no card says who consented (the trust file or the authorizations folder is unusable now).
        public var recordsProblem: String?
        public var cards: [Card]
        /// What this pipeline has live now, and under which records (from the ledger).
        public var live: [Live]
    }

    public struct Live: Sendable, Encodable {
        public var asset: String
        public var publishedName: String
        public var publishedAt: String?
        public var records: [String]
        /// The fingerprint the ledger recorded for it.
        public var contentSHA256: String?
    }

    /// This pipeline's live publications, newest first (none without a ledger).
    static func live(config: PipelineConfig) throws(PipelineError) -> [Live] {
        guard let ledger = try LedgerStores.openIfPresent(config) else { return [] }
        defer { ledger.disconnect() }
        return try ledger.livePublications().values.filter { $0.pipeline == config.name }.map {
            Live(
                asset: $0.asset, publishedName: $0.name, publishedAt: $0.publishedAt.map(Ledger.timestamp),
                records: $0.records, contentSHA256: $0.contentSHA256)
        }.sorted { ($0.publishedAt ?? "", $0.asset) > ($1.publishedAt ?? "", $1.asset) }
    }

    public struct Outcome: Sendable {
        public var cards: Int
        public var pending: Int
        public var previews: Int
    }

    /// The cards' data, with each preview's JPEG bytes.
    static func make(config: PipelineConfig, media: MediaService, now: Date) throws(PipelineError)
        -> (export: Export, previews: [String: [UInt8]])
    {
        let entries = try QuarantineState.list(config: config, now: now)
        let registry = entries.isEmpty ? nil : OfficeCards.registry(config: config, now: now)
        var cards: [Card] = []
        var previews: [String: [UInt8]] = [:]
        for entry in entries {
            let standing = registry.flatMap { registry in
                entry.presentedSHA256 == nil && entry.fileSHA256 == nil
                    ? nil
                    : ConsentStanding.of(
                        presentedSHA256: entry.presentedSHA256, fileSHA256: entry.fileSHA256,
                        channel: config.channel, registry: registry, now: now, visible: entry.visiblePeople)
            }
            var preview: String? = nil
            var label: String? = nil
            switch ReviewPage.thumbnail(entry, config: config, media: media) {
            case .picture(let jpeg, _, _):
                preview = "previews/\(entry.asset).jpg"
                previews[entry.asset] = jpeg
            case .placeholder(let text): label = text
            }
            cards.append(
                Card(
                    asset: entry.asset, originalName: entry.originalName, subfolder: entry.subfolder,
                    quarantinedAt: entry.quarantinedAt, ageDays: entry.ageDays,
                    status: entry.pending ? "pending" : "person", pendingUntil: entry.pendingUntil,
                    notPendingBecause: entry.notPendingBecause,
                    reasons: ReviewPage.shownReasons(entry).map {
                        Card.Reason(
                            code: $0.code, words: PlainWords.reason($0.code), message: $0.message,
                            whatToDo: ReviewPage.advice($0, entry: entry))
                    },
                    action: OfficeCards.action(entry, config: config, standing: standing),
                    presentedSHA256: entry.presentedSHA256, fileSHA256: entry.fileSHA256, channel: config.channel,
                    consent: standing, facesFound: entry.visiblePeople?.faces, preview: preview, previewLabel: label))
        }
        let export = Export(
            format: format, pipeline: config.name, channel: config.channel, madeAt: Ledger.timestamp(now),
            pendingDays: Int(config.pendingDays),
            recordsProblem: registry == nil && !entries.isEmpty
                ? "the records cannot be verified now (trust file or authorizations folder unusable)" : nil,
            cards: cards, live: try live(config: config))
        return (export, previews)
    }

    /// Writes (or refreshes) the export in `folder`.
    @discardableResult
    public static func write(config: PipelineConfig, to folder: String, media: MediaService, now: Date = Date())
        throws(PipelineError) -> Outcome
    {
        if let why = OutputFile.problem(folder + "/cards.json", overwrite: true, pipelines: [config]) {
            throw PipelineError("cannot export to \(folder): \(why)", exitCode: 2)
        }
        try prepare(folder, top: true)
        let previewFolder = folder + "/previews"
        try prepare(previewFolder, top: false)
        let (export, previews) = try make(config: config, media: media, now: now)
        for (asset, jpeg) in previews {
            try OutputFile.write(jpeg, to: "\(previewFolder)/\(asset).jpg", mode: 0o640, overwrite: true)
        }
        // Previews of files no longer in quarantine: only names the export writes, only regular files.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: previewFolder)) ?? [] {
            guard isPreviewName(name), previews[String(name.dropLast(4))] == nil else { continue }
            var info = stat()
            if lstat(previewFolder + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
                unlink(previewFolder + "/" + name)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data: Data
        do { data = try encoder.encode(export) } catch { throw PipelineError("cannot encode the export: \(error)") }
        // Written last: the app never reads a card whose preview is not there yet.
        try OutputFile.write(Array(data) + [0x0A], to: folder + "/cards.json", mode: 0o640, overwrite: true)
        return Outcome(
            cards: export.cards.count, pending: export.cards.filter { $0.status == "pending" }.count,
            previews: previews.count)
    }

    /// `ASSET.jpg`, ASSET being 32 lower-case hexadecimal digits.
    static func isPreviewName(_ name: String) -> Bool {
        name.count == 36 && name.hasSuffix(".jpg") && name.dropLast(4).allSatisfy { "0123456789abcdef".contains($0) }
    }

    /// Makes the folder (0750), or accepts one that is a real folder (not a link) and is empty or the export's own.
    static func prepare(_ folder: String, top: Bool) throws(PipelineError) {
        var info = stat()
        if lstat(folder, &info) != 0 {
            guard errno == ENOENT else {
                throw PipelineError("cannot export to \(folder): \(String(cString: strerror(errno)))", exitCode: 2)
            }
            guard mkdir(folder, 0o750) == 0 || errno == EEXIST else {
                throw PipelineError("cannot make \(folder): \(String(cString: strerror(errno)))", exitCode: 2)
            }
            chmod(folder, 0o750)
            if top {
                let note = "Written by consentgate review --export (the privacy office's app reads it). Its "
                    + "files are replaced on every export.\n"
                try OutputFile.write(Array(note.utf8), to: folder + "/" + marker, mode: 0o640, overwrite: false)
            }
            return
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw PipelineError("cannot export to \(folder): it is not a folder (a link or a file)", exitCode: 2)
        }
        guard top else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        if names.contains(marker) { return }
        guard names.isEmpty else {
            throw PipelineError(
                "cannot export to \(folder): it holds files review --export did not write (name a new or empty "
                    + "folder)", exitCode: 2)
        }
        try OutputFile.write([UInt8]("Written by consentgate review --export.\n".utf8), to: folder + "/" + marker,
            mode: 0o640, overwrite: false)
    }
}
