import Foundation

/// A signed form, letter or scan saved into the authorizations folder by mistake (SPEC §5, docs/privacy-office.md
/// "Evidence"): a PDF, an image or an office document. It is still listed as invalid (the run's summary names it,
/// exit 1), and still blocks every authorization whose id is found in its name or bytes; but where none is found it
/// no longer stops all publishing, since its bytes are a document's, not a record someone meant to write. Only a
/// file whose name AND first bytes are a document's counts; anything else stays a doubt that names no authorization.
public enum DocumentDoubt {
    public static let prefix = "a document, not a record: it belongs in the evidence folder"
    /// Documents are read up to this size to be scanned for ids; a larger one stays a global doubt.
    static let maxBytes = 64 << 20

    static let extensions: Set<String> = [
        "pdf", "jpg", "jpeg", "png", "gif", "tif", "tiff", "heic", "heif", "webp", "doc", "docx", "odt", "rtf",
    ]

    /// Whether the file name says document (a top-level, non-hidden file with one of `extensions`).
    static func named(_ name: [UInt8]) -> Bool {
        guard let text = String(validating: name, as: UTF8.self), !text.hasPrefix("."),
            let dot = text.lastIndex(of: ".")
        else { return false }
        return extensions.contains(text[text.index(after: dot)...].lowercased())
    }

    static func reason(for name: [UInt8]) -> String {
        prefix + " (evidence: in the pipeline file; consentgate authorize --form FILE --evidence DIR stores it by its "
            + "SHA-256 and the record names it)"
    }

    static func readLimit(_ record: InvalidRecord) -> Int {
        record.reason.hasPrefix(prefix) ? maxBytes : RecordVerifier.maxRecordBytes
    }

    /// Whether these bytes begin as a document does (PDF, JPEG, PNG, GIF, TIFF, an ISO media file, a ZIP-based
    /// office document, an OLE office document, RTF).
    static func looksLikeDocument(_ bytes: [UInt8]) -> Bool {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && Array(bytes[offset..<offset + magic.count]) == magic
        }
        return starts(Array("%PDF-".utf8)) || starts([0xFF, 0xD8, 0xFF]) || starts([0x89, 0x50, 0x4E, 0x47])
            || starts(Array("GIF8".utf8)) || starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
            || starts(Array("ftyp".utf8), at: 4) || starts([0x50, 0x4B, 0x03, 0x04])
            || starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) || starts(Array("{\\rtf".utf8))
            || (starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8))
    }

    /// Whether a doubt that names no authorization is excused from stopping all publishing: a document, read whole.
    static func excused(_ record: InvalidRecord, contents: [[UInt8]], readable: Bool) -> Bool {
        readable && record.reason.hasPrefix(prefix) && contents.first.map(looksLikeDocument) == true
    }
}
