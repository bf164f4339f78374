import ByteKit

/// The fingerprints of SPEC §4 of one file: what records name and the decision matches.
public struct Fingerprints: Codable, Sendable, Equatable {
    public var format: MediaFormat
    public var fileSHA256: String
    /// `presented_sha256` (definition 2): the coded data and everything kept that changes what a viewer sees or
    /// hears (`PresentedFingerprint`, `ISOMedia.presentation`). What records name and the decision matches.
    public var presentedSHA256: String?
    /// `content_sha256` under its old definition (1: coded data only). Records that name a picture only by it were
    /// signed against a fingerprint blind to edit lists, crops and colour: they match nothing any more, and this
    /// value only lets `check` tell which old record to re-record.
    public var legacyContentSHA256: String?

    public init(format: MediaFormat, fileSHA256: String, presentedSHA256: String?, legacyContentSHA256: String?) {
        self.format = format
        self.fileSHA256 = fileSHA256
        self.presentedSHA256 = presentedSHA256
        self.legacyContentSHA256 = legacyContentSHA256
    }

    /// Computes the fingerprints; throws when the file cannot be parsed (a content fingerprint is then unknowable).
    public static func compute(_ bytes: [UInt8]) throws(MediaError) -> Fingerprints {
        guard !bytes.isEmpty else { throw .malformed(format: "file", reason: "the file is empty") }
        let format = MediaFormat.sniff(bytes)
        let values = try format.handler.fingerprints(bytes, options: .init())
        return Fingerprints(
            format: format, fileSHA256: RangeHasher.sha256(bytes), presentedSHA256: values.presented,
            legacyContentSHA256: values.content)
    }
}
