import ByteKit

/// Lossless JPEG sanitizing: the output is rebuilt from an allowlist of segments, copied byte for byte.
enum JPEGSanitizer: PictureRules {
    /// `content_sha256` of a JPEG: SHA-256 over the bytes, in file order, of the primary image's segments that
    /// decoding needs as a decoder reads them (`codedPlan`): SOFn, DRI, each DQT and DHT with the tables something
    /// uses, each SOS with the entropy-coded data its blocks use (restart markers included). APPn, COM, stray bytes,
    /// trailers, unused tables and unread scan data are excluded. A picture the walk refuses (it is never published)
    /// hashes its coded segments byte for byte.
    static func contentSHA256(_ bytes: [UInt8], _ structure: JPEGStructure) -> String {
        var hasher = RangeHasher()
        if let plan = try? codedPlan(bytes, structure) {
            hasher.update(plan.codedBytes(structure))
            return hasher.finalize()
        }
        for range in codedRanges(structure) {
            hasher.update(bytes, range)
        }
        return hasher.finalize()
    }

    /// The byte ranges `content_sha256` covers, in order.
    static func codedRanges(_ structure: JPEGStructure) -> [Range<Int>] {
        structure.segments.filter(\.kind.isCodedImageData).map(\.bytes)
    }

    /// The TIFF block of an APP1 EXIF segment: what follows its 6-byte "Exif\0\0" header (empty when the
    /// segment is shorter than that header; the segment is recognised by its first five bytes).
    static func exifTIFF(_ bytes: [UInt8], _ segment: JPEGSegment) -> ArraySlice<UInt8> {
        let payload = segment.payload
        return bytes[min(payload.lowerBound + EXIF.header.count, payload.upperBound)..<payload.upperBound]
    }

    /// IFD0 Orientation of the first EXIF block that libexif can read.
    static func orientation(_ bytes: [UInt8], _ structure: JPEGStructure) -> Int? {
        for segment in structure.segments where segment.kind == .exif {
            if let contents = EXIF.read(tiff: exifTIFF(bytes, segment)) { return contents.orientation }
        }
        return nil
    }

    /// Adobe's APP14 payload is exactly 12 bytes: "Adobe", version (2), flags0 (2), flags1 (2), transform (1).
    static let adobePayloadLength = 12

    /// The APP14 Adobe segment a decoder uses (libjpeg takes the last one before the first scan; a payload under
    /// 12 bytes it ignores), as its index in `structure.segments`. Nil when there is none.
    static func adobeSegment(_ structure: JPEGStructure) -> Int? {
        let firstScan = structure.segments.firstIndex { $0.kind == .scan } ?? structure.segments.count
        return structure.segments[..<firstScan].lastIndex {
            $0.kind == .adobe && $0.payload.count >= adobePayloadLength
        }
    }

    /// The Adobe segment rebuilt from its standard fields only: whatever a longer segment carries after them is
    /// never copied (it is a place to hide data, and no decoder reads it).
    static func rebuiltAdobe(_ bytes: [UInt8], _ segment: JPEGSegment) -> [UInt8] {
        let fields = bytes[segment.payload.lowerBound..<(segment.payload.lowerBound + adobePayloadLength)]
        return [0xFF, 0xEE, 0x00, UInt8(adobePayloadLength + 2)] + fields
    }

    static let iccSignature = Array("ICC_PROFILE\0".utf8)
    /// Profile bytes in one APP2 segment: 65,535 less the length field and the 14-byte header.
    static let iccPartBytes = 0xFFFF - 2 - 14

    /// The ICC profile of the APP2 ICC_PROFILE segments, joined in their sequence order, when viewers would use it:
    /// the parts numbered 1...N with N the count every part gives (libjpeg's `jpeg_read_icc_profile` rule), and a
    /// usable profile (`ICCProfile.isUsable`). Nil otherwise: viewers ignore it, and the sanitizer drops it.
    static func iccProfile(_ bytes: [UInt8], _ structure: JPEGStructure) -> [UInt8]? {
        let parts = structure.segments.filter { $0.kind == .icc }
        guard !parts.isEmpty, parts.count <= 255 else { return nil }
        var pieces = [Range<Int>?](repeating: nil, count: parts.count)
        var total = 0
        for part in parts {
            guard part.payload.count > 14 else { return nil }
            let number = Int(bytes[part.payload.lowerBound + 12])
            guard Int(bytes[part.payload.lowerBound + 13]) == parts.count, number >= 1, number <= parts.count,
                pieces[number - 1] == nil
            else { return nil }
            pieces[number - 1] = (part.payload.lowerBound + 14)..<part.payload.upperBound
            total += part.payload.count - 14
        }
        guard total <= ICCProfile.maxBytes else { return nil }
        var profile: [UInt8] = []
        profile.reserveCapacity(total)
        for piece in pieces { if let piece { profile += bytes[piece] } }
        return ICCProfile.isUsable(profile) ? profile : nil
    }

    /// A profile as APP2 ICC_PROFILE segments.
    static func iccSegments(_ profile: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        let total = (profile.count + iccPartBytes - 1) / iccPartBytes
        for index in 0..<total {
            let piece = profile[(index * iccPartBytes)..<min(profile.count, (index + 1) * iccPartBytes)]
            output += [0xFF, 0xE2] + Bytes.put(piece.count + 16, 2) + iccSignature + [UInt8(index + 1), UInt8(total)]
            output += piece
        }
        return output
    }

    /// Each kept table, frame and scan header must have exactly the length its fields define: a DQT, DHT or SOF with
    /// bytes after its fields carries them into the output (they are copied byte for byte, being coded data).
    static func checkCodedSegmentSizes(_ bytes: [UInt8], _ structure: JPEGStructure) throws(MediaError) {
        for segment in structure.segments where segment.kind.isCodedImageData {
            let p = segment.payload
            let n = p.count
            var ok: Bool
            switch segment.kind {
            case .quantizationTable:
                var at = p.lowerBound
                while at < p.upperBound { at += 1 + (bytes[at] >> 4 == 0 ? 64 : 128) }
                ok = at == p.upperBound && n > 0
            case .huffmanTable:
                var at = p.lowerBound
                ok = n > 0
                while ok && at < p.upperBound {
                    guard at + 17 <= p.upperBound else {
                        ok = false
                        break
                    }
                    at += 17 + bytes[(at + 1)..<(at + 17)].reduce(0) { $0 + Int($1) }
                }
                ok = ok && at == p.upperBound
            case .frame, .hierarchical: ok = n >= 6 && n == 6 + 3 * Int(bytes[p.lowerBound + 5])
            case .scan: ok = n >= 1 && n == 1 + 2 * Int(bytes[p.lowerBound]) + 3
            case .restartInterval, .numberOfLines: ok = n == 2
            case .arithmeticConditioning: ok = n % 2 == 0 && n > 0
            case .expandReference: ok = n == 1
            default: ok = true
            }
            guard ok else {
                throw MediaError.malformed(
                    format: "JPEG",
                    reason: "\(segment.name) at offset \(segment.offset) is \(n + 2) bytes long, not the length its fields define")
            }
        }
    }

    /// The picture rebuilt from the allowlist and checked by `verify` before it is returned: no unverified output
    /// leaves this function.
    static func sanitize(_ bytes: [UInt8], _ structure: JPEGStructure, options: SanitizeOptions) throws(MediaError)
        -> (output: [UInt8], orientation: Int?, removed: [String])
    {
        var output: [UInt8] = [0xFF, 0xD8]
        output.reserveCapacity(bytes.count)
        var removed = RemovedLog()
        try checkCodedSegmentSizes(bytes, structure)
        let plan = try codedPlan(bytes, structure, limits: options.limits)
        for (key, detail) in plan.removed { removed.note(key, detail) }
        let icc = options.keepICC ? try iccProfile(bytes, structure).map { (raw) throws(MediaError) in
            try ICCProfile.published(raw)
        } : nil
        if options.keepICC && icc == nil, let part = structure.segments.first(where: { $0.kind == .icc }) {
            removed.note("ICC", "an ICC profile viewers ignore (broken parts or profile) at offset \(part.offset)")
        }
        var wroteICC = false
        // A JFIF header rebuilt without its thumbnail.
        if let jfif = structure.segments.first(where: { $0.kind == .jfif }), jfif.payload.count >= 14 {
            output += [0xFF, 0xE0, 0x00, 0x10]
            output += bytes[jfif.payload.lowerBound..<(jfif.payload.lowerBound + 12)]
            output += [0x00, 0x00]
        }
        var orientation: Int? = nil
        if options.keepOrientation, let value = JPEGSanitizer.orientation(bytes, structure) {
            guard let block = EXIF.minimalOrientationBlock(value), block.count + 2 <= 0xFFFF else {
                throw .verificationFailed("libexif could not build the orientation block")
            }
            output += [0xFF, 0xE1, UInt8((block.count + 2) >> 8), UInt8((block.count + 2) & 0xFF)]
            output += block
            orientation = value
        }
        let adobe = adobeSegment(structure)
        for (index, segment) in structure.segments.enumerated() {
            let keep: Bool
            switch segment.kind {
            case .adobe:
                if index == adobe {
                    output += rebuiltAdobe(bytes, segment)
                    if segment.payload.count > adobePayloadLength {
                        removed.note(
                            "Adobe",
                            "\(segment.payload.count - adobePayloadLength) bytes after the Adobe fields of APP14 at offset \(segment.offset)"
                        )
                    }
                    continue
                }
                keep = false
            case .icc:
                // The profile as published (ICCProfile): rebuilt and split again, where its first part was.
                if let icc, !wroteICC { output += iccSegments(icc) }
                wroteICC = true
                continue
            default: keep = segment.kind.isCodedImageData
            }
            if keep {
                output += plan.pieces[index] ?? []
            } else if segment.kind != .jfif {
                removed.note(
                    "\(segment.name) \(segment.kind.rawValue)",
                    "\(segment.name) \(segment.kind.rawValue) at offset \(segment.offset)")
            }
        }
        output += [0xFF, 0xD9]
        if let trailer = structure.trailer { removed.note("trailer", "\(trailer.count) bytes after EOI") }
        for stray in structure.strayBytes {
            removed.note("stray bytes", "\(stray.count) stray bytes at offset \(stray.offset)")
        }
        try verify(
            output, original: bytes, originalStructure: structure, orientation: orientation, options: options,
            expectedCoded: plan.codedBytes(structure))
        return (output, orientation, removed.summary)
    }

    /// Re-reads a sanitized JPEG independently of how it was built: every segment must be on the
    /// allowlist, EXIF (read by libexif and by the IFD0 reader) may hold Orientation only, libjpeg must
    /// read the header cleanly, and the coded data under `content_sha256` must be unchanged. `expectedCoded`: the
    /// original's coded bytes as `codedPlan` gave them to the rebuild (walked again here when not given).
    static func verify(
        _ output: [UInt8], original: [UInt8], originalStructure: JPEGStructure, orientation: Int?,
        options: SanitizeOptions, expectedCoded: [UInt8]? = nil
    ) throws(MediaError) {
        func fail(_ why: String) -> MediaError { .verificationFailed(why) }
        let structure: JPEGStructure
        do { structure = try JPEGStructure(parsing: output) } catch { throw fail("output does not parse: \(error)") }
        guard structure.trailer == nil, structure.strayBytes.isEmpty else {
            throw fail("output has data outside segments")
        }
        var exifBlocks = 0
        var adobeSegments = 0
        for segment in structure.segments {
            switch segment.kind {
            case .jfif:
                guard segment.payload.count == 14, output[segment.payload.upperBound - 2] == 0,
                    output[segment.payload.upperBound - 1] == 0
                else { throw fail("JFIF segment carries a thumbnail") }
            case .exif:
                exifBlocks += 1
                let tiff = exifTIFF(output, segment)
                guard exifBlocks == 1, TIFFDirectory.isOrientationOnly(tiff: tiff),
                    let contents = EXIF.read(tiff: tiff), contents.otherEntryCount == 0,
                    contents.thumbnailBytes == 0, contents.makerNoteEntryCount == 0,
                    contents.orientation == orientation
                else { throw fail("EXIF left in the output holds more than Orientation") }
            case .icc:
                guard options.keepICC else { throw fail("ICC profile left although it was to be dropped") }
                guard segment.payload.count <= iccPartBytes + 14 else { throw fail("an ICC part is too long") }
            case .adobe:
                adobeSegments += 1
                guard adobeSegments == 1, segment.payload.count == adobePayloadLength else {
                    throw fail("APP14 Adobe segment left in the output is not one standard 12-byte segment")
                }
            default:
                guard segment.kind.isCodedImageData else {
                    throw fail("\(segment.name) \(segment.kind.rawValue) left in the output")
                }
            }
        }
        if orientation != nil && exifBlocks == 0 { throw fail("orientation was lost") }
        // The profile left must be one the rebuild leaves as it is (only colour tags of their exact sizes, fixed
        // text, zeroed header fields), and every table and header exactly its defined length.
        if structure.segments.contains(where: { $0.kind == .icc }) {
            guard let profile = iccProfile(output, structure), (try? ICCProfile.published(profile)) == profile else {
                throw fail("the ICC profile left is broken or holds more than its colour tags")
            }
        }
        do { try checkCodedSegmentSizes(output, structure) } catch { throw fail("\(error)") }
        let header = try ImageCodec.readHeader(.jpeg, output, limits: options.limits)
        guard header.warnings == 0 else { throw fail("libjpeg warns about the output: \(header.firstWarning ?? "")") }
        // The bytes content_sha256 covers must be identical, which is stronger than equal hashes, and the output's
        // coded segments must be exactly what a decoder reads of them (no unread scan data, no unused table).
        let written = codedRanges(structure).reduce(into: [UInt8]()) { $0 += output[$1] }
        let expected: [UInt8]
        let read: [UInt8]
        do {
            expected =
                try expectedCoded
                ?? codedPlan(original, originalStructure, limits: options.limits).codedBytes(originalStructure)
            read = try codedPlan(output, structure, limits: options.limits).codedBytes(structure)
        } catch { throw fail("the coded data cannot be walked: \(error)") }
        guard written == expected else { throw fail("coded image data (content_sha256) changed") }
        guard written == read else { throw fail("the output holds coded data no decoder reads") }
    }
}
