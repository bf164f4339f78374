import ByteKit

/// Lossless WebP sanitizing: VP8/VP8L/ALPH/ANIM/ANMF kept (frames rebuilt from their image chunks), ICCP as an
/// option, a minimal EXIF holding only Orientation as an option; VP8X flags and the RIFF size fixed.
enum WebPSanitizer: PictureRules {
    static let coded: Set<String> = ["VP8 ", "VP8L", "ALPH", "ANIM", "ANMF"]
    static let frameCoded: Set<String> = ["VP8 ", "VP8L", "ALPH"]

    static func chunk(_ fourCC: String, _ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(payload.count)
        var out = Array(fourCC.utf8) + (0..<4).map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + payload
        if payload.count & 1 == 1 { out.append(0) }
        return out
    }

    /// The image chunks in order, frames rebuilt with only their image chunks, each image chunk cut where a
    /// decoder stops reading it (`kept`, from `WebPReadEnd`; an ALPH chunk no decoder reads is left out, an empty
    /// array at the top level): what `content_sha256` covers. Without `kept` (a file refused for its image data)
    /// the chunks are taken whole.
    static func codedChunks(_ bytes: [UInt8], _ structure: WebPStructure, kept: [Int: Int]?) -> [[UInt8]] {
        func image(_ item: WebPChunk) -> [UInt8] {
            let length = kept?[item.offset] ?? item.payload.count
            return length == 0 ? [] : chunk(item.fourCC, Array(bytes[item.payload.prefix(length)]))
        }
        return structure.chunks.filter { coded.contains($0.fourCC) }.map { item in
            if item.fourCC == "ANMF" {
                var payload = Array(bytes[item.payload.lowerBound..<item.payload.lowerBound + 16])
                for sub in item.frameChunks where frameCoded.contains(sub.fourCC) { payload += image(sub) }
                return chunk("ANMF", payload)
            }
            return frameCoded.contains(item.fourCC) ? image(item) : chunk(item.fourCC, Array(bytes[item.payload]))
        }
    }

    /// `content_sha256` of a WebP: SHA-256 over the VP8, VP8L, ALPH, ANIM and ANMF chunks in file order, each as
    /// its FourCC, little-endian size, payload and pad byte, where each ANMF is taken with its 16-byte frame header
    /// and only its ALPH/VP8/VP8L chunks, and each ALPH/VP8/VP8L payload only up to where libwebp's decoder stops
    /// reading it (`WebPReadEnd`; an ALPH beside VP8L not at all). VP8X, ICCP, EXIF, XMP and unknown chunks are
    /// excluded.
    static func contentSHA256(_ bytes: [UInt8], _ structure: WebPStructure) -> String {
        content(codedChunks(bytes, structure, kept: try? WebPReadEnd.keptLengths(bytes, structure)))
    }

    static func content(_ coded: [[UInt8]]) -> String {
        var hasher = RangeHasher()
        for item in coded { hasher.update(item) }
        return hasher.finalize()
    }

    static func exifTIFF(_ bytes: [UInt8], _ chunk: WebPChunk) -> ArraySlice<UInt8> {
        let payload = bytes[chunk.payload]
        return payload.starts(with: EXIF.header) ? payload.dropFirst(EXIF.header.count) : payload
    }

    static func orientation(_ bytes: [UInt8], _ structure: WebPStructure) -> Int? {
        guard let exif = structure.chunks.first(where: { $0.fourCC == "EXIF" }) else { return nil }
        return EXIF.read(tiff: exifTIFF(bytes, exif))?.orientation
    }

    /// The picture rebuilt from the allowlist and checked by `verify` before it is returned: no unverified output
    /// leaves this function.
    static func sanitize(_ bytes: [UInt8], _ structure: WebPStructure, options: SanitizeOptions) throws(MediaError)
        -> (output: [UInt8], orientation: Int?, removed: [String])
    {
        var removed = RemovedLog()
        let vp8x = structure.chunks.first { $0.fourCC == "VP8X" }
        let icc = options.keepICC && vp8x != nil ? structure.chunks.first { $0.fourCC == "ICCP" } : nil
        // The profile as published (ICCProfile.published): colour tags only, header fields zeroed.
        let iccPayload = try icc.map { (chunk) throws(MediaError) in
            try ICCProfile.published(Array(bytes[chunk.payload]))
        }
        for item in structure.chunks where item.fourCC == "ANIM" && item.payload.count != 6 {
            throw .malformed(format: "WebP", reason: "ANIM chunk at offset \(item.offset) is not 6 bytes")
        }
        var orientationBlock: [UInt8]? = nil
        var orientation: Int? = nil
        if options.keepOrientation, vp8x != nil, let value = WebPSanitizer.orientation(bytes, structure) {
            guard let block = EXIF.minimalOrientationBlock(value) else {
                throw .verificationFailed("libexif could not build the orientation block")
            }
            orientationBlock = Array(block.dropFirst(EXIF.header.count))
            orientation = value
        }
        var body = Array("WEBP".utf8)
        if let vp8x {
            guard vp8x.payload.count >= 10 else { throw .malformed(format: "WebP", reason: "VP8X chunk is too short") }
            let hasAnimation = structure.chunks.contains { $0.fourCC == "ANIM" }
            let hasAlpha =
                structure.chunks.contains { $0.fourCC == "ALPH" }
                || structure.chunks.contains { $0.fourCC == "VP8L" } || bytes[vp8x.payload.lowerBound] & 0x10 != 0
            var flags: UInt8 = 0
            if icc != nil { flags |= 0x20 }
            if hasAlpha { flags |= 0x10 }
            if orientationBlock != nil { flags |= 0x08 }
            if hasAnimation { flags |= 0x02 }
            body += chunk(
                "VP8X", [flags, 0, 0, 0] + Array(bytes[(vp8x.payload.lowerBound + 4)..<(vp8x.payload.lowerBound + 10)]))
        }
        if let iccPayload { body += chunk("ICCP", iccPayload) }
        var codedIndex = 0
        let kept = try WebPReadEnd.keptLengths(bytes, structure)
        let coded = codedChunks(bytes, structure, kept: kept)
        for item in structure.chunks + structure.chunks.flatMap(\.frameChunks) {
            guard let length = kept[item.offset], length < item.payload.count else { continue }
            let name = String(item.fourCC.filter { $0 != " " })
            let unread = "\(item.payload.count - length) bytes after where the decoder stops"
            removed.note(
                "unread \(name) data",
                length == 0
                    ? "\(name) at offset \(item.offset) (no decoder reads it beside a VP8L image)"
                    : "\(unread) in \(name) at offset \(item.offset)")
        }
        for item in structure.chunks {
            if coded.isEmpty == false, WebPSanitizer.coded.contains(item.fourCC) {
                body += coded[codedIndex]
                codedIndex += 1
                if item.fourCC == "ANMF" {
                    for sub in item.frameChunks where !frameCoded.contains(sub.fourCC) {
                        removed.note("frame \(sub.fourCC)", "frame chunk \(sub.fourCC) at offset \(sub.offset)")
                    }
                }
            } else if item.fourCC != "VP8X" && !(item.fourCC == "ICCP" && icc != nil && item.offset == icc!.offset) {
                let name = String(item.fourCC.filter { $0 != " " })
                removed.note(name, "\(name) at offset \(item.offset)")
            }
        }
        if let orientationBlock { body += chunk("EXIF", orientationBlock) }
        if let trailer = structure.trailer { removed.note("trailer", "\(trailer.count) bytes after the RIFF data") }
        let size = UInt32(body.count)
        let output = Array("RIFF".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + body
        try verify(output, expectedContent: content(coded), orientation: orientation, options: options)
        return (output, orientation, removed.summary)
    }

    static func verify(_ output: [UInt8], expectedContent: String, orientation: Int?, options: SanitizeOptions)
        throws(MediaError)
    {
        func fail(_ why: String) -> MediaError { .verificationFailed(why) }
        let structure: WebPStructure
        do { structure = try WebPStructure(parsing: output) } catch { throw fail("output does not parse: \(error)") }
        guard structure.trailer == nil, WebPStructure.le32(output, 4) + 8 == output.count else {
            throw fail("RIFF size is wrong")
        }
        var flags: UInt8 = 0
        var seen = Set<String>()
        for item in structure.chunks {
            switch item.fourCC {
            case "VP8X":
                guard item.payload.count >= 10 else { throw fail("VP8X chunk is too short") }
                flags = output[item.payload.lowerBound]
            case "ICCP":
                guard options.keepICC, !seen.contains("ICCP") else {
                    throw fail("ICC profile left although it was to be dropped")
                }
                let profile = Array(output[item.payload])
                guard (try? ICCProfile.published(profile)) == profile else {
                    throw fail("the ICC profile left holds more than its colour tags")
                }
            case "ANIM": guard item.payload.count == 6 else { throw fail("ANIM chunk is not 6 bytes") }
            case "EXIF":
                let tiff = WebPSanitizer.exifTIFF(output, item)
                guard TIFFDirectory.isOrientationOnly(tiff: tiff), let contents = EXIF.read(tiff: tiff),
                    contents.otherEntryCount == 0, contents.orientation == orientation
                else { throw fail("EXIF left in the output holds more than Orientation") }
            default:
                guard coded.contains(item.fourCC) else { throw fail("chunk \(item.fourCC) left in the output") }
                for sub in item.frameChunks where !frameCoded.contains(sub.fourCC) {
                    throw fail("frame chunk \(sub.fourCC) left in the output")
                }
            }
            seen.insert(item.fourCC)
        }
        guard (flags & 0x04) == 0, (flags & 0x08 != 0) == seen.contains("EXIF"),
            (flags & 0x20 != 0) == seen.contains("ICCP")
        else {
            throw fail("VP8X flags do not match the chunks")
        }
        if orientation != nil && !seen.contains("EXIF") { throw fail("orientation was lost") }
        // Every byte of every image chunk left is read by the decoder, and those bytes are the input's.
        let kept: [Int: Int]
        do { kept = try WebPReadEnd.keptLengths(output, structure) } catch {
            throw fail("the output's images: \(error)")
        }
        for item in structure.chunks + structure.chunks.flatMap(\.frameChunks) {
            if let length = kept[item.offset], length != item.payload.count {
                throw fail("bytes no decoder reads are left in \(item.fourCC) at offset \(item.offset)")
            }
        }
        guard content(codedChunks(output, structure, kept: kept)) == expectedContent else {
            throw fail("coded image data (content_sha256) changed")
        }
    }
}
