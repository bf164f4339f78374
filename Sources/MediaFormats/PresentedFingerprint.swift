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
/// Video and HEIF: see `ISOMedia.presentation`.
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

    /// Both content fingerprints of a picture held in memory: (presented, legacy content).
    static func pictureValues(_ format: MediaFormat, _ bytes: [UInt8], options: SanitizeOptions = .init())
        throws(MediaError) -> (presented: String, content: String)
    {
        switch format {
        case .jpeg:
            let structure = try JPEGStructure(parsing: bytes)
            let content = JPEGSanitizer.contentSHA256(bytes, structure)
            return (jpeg(bytes, structure, content: content, options: options), content)
        case .png:
            let structure = try PNGStructure(parsing: bytes)
            let content = PNGSanitizer.contentSHA256(bytes, structure)
            return (png(bytes, structure, content: content, options: options), content)
        case .webp:
            let structure = try WebPStructure(parsing: bytes)
            let content = WebPSanitizer.contentSHA256(bytes, structure)
            return (webp(bytes, structure, content: content, options: options), content)
        case .gif:
            let structure = try GIFStructure(parsing: bytes)
            let content = GIFSanitizer.contentSHA256(bytes, structure)
            return (gif(bytes, structure, content: content), content)
        case .unknown: throw .unsupported("not an image or video format ConsentGate knows")
        case .tiff: throw .unsupported("TIFF is not a publishing format (export the picture as JPEG or PNG)")
        default: throw .unsupported("\(format.rawValue) is fingerprinted in place from a file (MediaFile)")
        }
    }

    static func jpeg(_ bytes: [UInt8], _ structure: JPEGStructure, content: String, options: SanitizeOptions)
        -> String
    {
        var fields = Fields(coded: digest(content))
        if options.keepICC {
            // The profile as published (ICCProfile.published): colour tags only, so an edited description keeps the
            // match. A profile viewers ignore (broken parts) does not count; one the sanitizer refuses counts raw.
            if let profile = JPEGSanitizer.iccProfile(bytes, structure) {
                if let published = try? ICCProfile.published(profile) {
                    fields.add("icc", published)
                } else {
                    fields.add("icc-unchecked", profile)
                }
            }
        }
        if let adobe = JPEGSanitizer.adobeSegment(structure) {
            // The colour transform (0 none/CMYK, 1 YCbCr, 2 YCCK): the only field that changes decoding.
            fields.add("adobe-transform", [bytes[structure.segments[adobe].payload.lowerBound + 11]])
        }
        fields.add("orientation", orientation(JPEGSanitizer.orientation(bytes, structure), options: options))
        return fields.finalize()
    }

    static let pngColourChunks: Set<String> = ["gAMA", "cHRM", "sRGB"]

    static func png(_ bytes: [UInt8], _ structure: PNGStructure, content: String, options: SanitizeOptions) -> String {
        var fields = Fields(coded: digest(content))
        // Colour chunks of their defined length (decoders ignore others, and the sanitizer drops them); the first
        // usable iCCP's profile as published (ICCProfile.published), so its name and text do not count.
        let icc = options.keepICC ? PNGSanitizer.usedICC(bytes, structure) : nil
        for (index, chunk) in structure.chunks.enumerated() where chunk.crcValid {
            if pngColourChunks.contains(chunk.type) && PNGSanitizer.hasDefinedLength(chunk, structure, bytes) {
                fields.add(chunk.type, bytes[chunk.data])
            } else if let icc, index == icc.chunk {
                if let published = try? ICCProfile.published(icc.profile) {
                    fields.add("icc", published)
                } else {
                    fields.add("iCCP-unchecked", bytes[chunk.data])
                }
            }
        }
        fields.add("orientation", orientation(PNGSanitizer.orientation(bytes, structure), options: options))
        return fields.finalize()
    }

    static func webp(_ bytes: [UInt8], _ structure: WebPStructure, content: String, options: SanitizeOptions)
        -> String
    {
        var fields = Fields(coded: digest(content))
        // Simple (VP8/VP8L-only) files carry neither a profile nor an orientation the sanitizer keeps.
        var value: Int? = nil
        if let vp8x = structure.chunks.first(where: { $0.fourCC == "VP8X" }), vp8x.payload.count >= 10 {
            fields.add("canvas", bytes[(vp8x.payload.lowerBound + 4)..<(vp8x.payload.lowerBound + 10)])
            if options.keepICC, let icc = structure.chunks.first(where: { $0.fourCC == "ICCP" }) {
                if let published = try? ICCProfile.published(Array(bytes[icc.payload])) {
                    fields.add("icc", published)
                } else {
                    fields.add("icc-unchecked", bytes[icc.payload])
                }
            }
            value = WebPSanitizer.orientation(bytes, structure)
        }
        fields.add("orientation", orientation(value, options: options))
        return fields.finalize()
    }

    static func gif(_ bytes: [UInt8], _ structure: GIFStructure, content: String) -> String {
        var fields = Fields(coded: digest(content))
        for block in structure.blocks {
            // The extension as published: its defined 19 bytes, whatever sub-blocks follow its loop count.
            if let loop = GIFSanitizer.loopBlock(bytes, block) { fields.add("loop", loop) }
        }
        return fields.finalize()
    }
}
