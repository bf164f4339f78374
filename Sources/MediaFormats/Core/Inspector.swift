import ByteKit

/// One structural element of a file: a segment, a chunk, a trailer.
public struct StructureEntry: Codable, Sendable, Equatable {
    public var offset: Int
    public var length: Int
    public var name: String
    public var detail: String?
}

/// Everything `inspect` reports about one file.
public struct InspectReport: Codable, Sendable {
    public var format: MediaFormat
    public var bytes: Int
    public var fileSHA256: String
    /// `presented_sha256` (definition 2): what records name.
    public var presentedSHA256: String?
    /// `content_sha256` under its old definition 1 (coded data only), to find records that must be re-recorded.
    public var legacyContentSHA256: String?
    public var image: ImageHeader?
    public var structure: [StructureEntry] = []
    public var metadata: [MetadataItem] = []
    public var warnings: [String] = []
    /// Why the file could not be read fully; nil when it could.
    public var error: String?
}

/// Lists a file's structure and every metadata item in it.
public enum Inspector {
    /// Inspects a file on disk: ISO-BMFF media is walked in place (a video is never loaded whole); other
    /// formats are read into memory within the limits.
    public static func inspect(path: String, limits: MediaLimits = .init()) throws(MediaError) -> InspectReport {
        try MediaFile(path: path, limits: limits).inspect(limits: limits)
    }

    /// Inspects a file held in memory (a picture; ISO-BMFF media is inspected from a file, `inspect(path:)`).
    /// Never throws: what could not be read is the report's `error`. With `hashFile` false the report's
    /// `fileSHA256` is empty (a verification whose caller does not use it saves a pass over the bytes).
    public static func inspect(_ bytes: [UInt8], limits: MediaLimits = .init(), hashFile: Bool = true) -> InspectReport
    {
        let format = MediaFormat.sniff(bytes)
        let handler = format.handler
        var report = InspectReport(
            format: format, bytes: bytes.count, fileSHA256: hashFile ? RangeHasher.sha256(bytes) : "")
        do {
            try handler.inspect(bytes, into: &report)
            // Picture handlers take both fingerprints during their inspection; any other computes them here.
            if report.presentedSHA256 == nil || report.legacyContentSHA256 == nil {
                (report.presentedSHA256, report.legacyContentSHA256) = try handler.fingerprints(bytes, options: .init())
            }
            if let codec = handler.codec {
                report.image = try codec.readHeader(bytes, limits: limits)
                if let warning = report.image?.firstWarning { report.warnings.append("decoder: \(warning)") }
            }
        } catch {
            report.error = "\(error)"
        }
        return report
    }

    /// Every EXIF entry libexif reads from a TIFF-structured block, or one item saying the block is unreadable.
    static func exifItems<C: Collection>(_ tiff: C, offset: Int, holder: String) -> [MetadataItem]
    where C.Element == UInt8 {
        EXIF.read(tiff: tiff, offset: offset)?.items
            ?? [MetadataItem(family: "EXIF", name: "unreadable \(holder)", offset: offset, bytes: tiff.count)]
    }
}
