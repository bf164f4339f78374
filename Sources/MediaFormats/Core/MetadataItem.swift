import ByteKit

/// One metadata item found in a file: a tag, a segment, a chunk or a trailer.
public struct MetadataItem: Codable, Sendable, Equatable {
    /// The structure it belongs to: EXIF, GPS, MakerNote, XMP, IPTC, Comment, ICC, PNG text, Trailer...
    public var family: String
    public var name: String
    /// The value as text, shortened; nil for binary blocks.
    public var value: String?
    /// Offset in the file of the segment or chunk that holds it.
    public var offset: Int?
    /// Size in bytes, for blocks.
    public var bytes: Int?

    public init(family: String, name: String, value: String? = nil, offset: Int? = nil, bytes: Int? = nil) {
        self.family = family
        self.name = name
        self.value = value.map { MetadataItem.shorten($0) }
        self.offset = offset
        self.bytes = bytes
    }

    static func shorten(_ text: String, limit: Int = 200) -> String {
        let printable = String(text.unicodeScalars.map { $0.value < 0x20 && $0 != "\n" ? "." : Character($0) })
        return printable.count > limit ? String(printable.prefix(limit)) + "…" : printable
    }
}
