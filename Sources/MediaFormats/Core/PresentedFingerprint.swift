import ByteKit

/// `presented_sha256` (SPEC §4, fingerprint definition 2): what a viewer sees or hears. It covers the coded data
/// (the old `content_sha256`, definition 1) and every kept structure that changes the presentation: colour
/// profiles and curves, orientation, crops, rotations, timing, edit lists, sample descriptions, track geometry.
/// Metadata (GPS, dates, names, XMP, maker notes, comments) stays outside, so a metadata-only edit keeps the
/// match and a picture is fingerprinted the same before and after sanitizing with the default options.
///
/// The value is SHA-256 over a tagged list of fields: the definition's name, the coded data's SHA-256 (the old
/// `content_sha256`, as 32 bytes), then each presentation field as its name, a 0 byte, its length as an 8-byte
/// big-endian number, and its bytes. Per format (the README lists the same):
/// - JPEG: the ICC profile (its APP2 segments' payloads in order), the Adobe APP14 transform byte, the EXIF
///   Orientation publishing keeps (1 when there is none or it is not 1–8).
/// - PNG: gAMA, cHRM, sRGB and a usable iCCP chunk (type and data, in file order), and the eXIf Orientation.
/// - WebP: for extended files, the VP8X canvas size, the first ICCP chunk and the EXIF Orientation.
/// - GIF: the looping extensions (NETSCAPE2.0, ANIMEXTS1.0).
/// Video and HEIF: see `ISOMedia.presentation`. Each format's handler builds its fields (`JPEGHandler.presentedSHA256`).
///
/// Options that drop a structure (`keepICC: false`, `keepOrientation: false`) leave it out here too: that is the
/// fingerprint of what is published with those options, which the sanitizer verifies. A pipeline compares the
/// record's fingerprint (default options) with the output's (`MediaFile.sanitize(knownContent:)`), so a pipeline
/// that drops a picture's ICC profile or Orientation refuses that picture instead of publishing it changed.
enum PresentedFingerprint {
    static let definition = "consentgate presented_sha256 v2"

    /// The tagged field list, hashed as it is built.
    struct Fields {
        var hasher = RangeHasher()

        init(coded: [UInt8]) {
            hasher.update(Array(PresentedFingerprint.definition.utf8) + [0])
            hasher.update(coded)
        }

        mutating func add(_ name: String, _ bytes: [UInt8]) {
            hasher.update(Array(name.utf8) + [0] + Bytes.put(bytes.count, 8))
            hasher.update(bytes)
        }

        mutating func add(_ name: String, _ bytes: ArraySlice<UInt8>) { add(name, Array(bytes)) }

        func finalize() -> String { hasher.finalize() }
    }

    /// Orientation as a viewer applies it: 1 (as stored) when absent, dropped, or not a valid value.
    static func orientation(_ value: Int?, options: SanitizeOptions) -> [UInt8] {
        guard options.keepOrientation, let value, (2...8).contains(value) else { return [1] }
        return [UInt8(value)]
    }

    static func digest(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

}
