/// One RIFF chunk of a WebP file.
public struct WebPChunk: Sendable, Equatable {
    public var fourCC: String
    /// Offset of the chunk header.
    public var offset: Int
    public var payload: Range<Int>
    /// For ANMF: the frame's own chunks (after its 16-byte header).
    public var frameChunks: [WebPChunk] = []
}

/// The structure of a WebP file (RIFF): its chunks in order and anything after the RIFF payload.
public struct WebPStructure: Sendable {
    public var chunks: [WebPChunk]
    public var trailer: Range<Int>?

    static func fourCC(_ bytes: [UInt8], _ at: Int) -> String { String(decoding: bytes[at..<at + 4], as: UTF8.self) }
    static func le32(_ bytes: [UInt8], _ at: Int) -> Int {
        Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
    }

    /// Walks `bytes` as WebP. Total: any input gives a structure or a `MediaError` that says where.
    public init(parsing bytes: [UInt8]) throws(MediaError) {
        func fail(_ reason: String) -> MediaError { .malformed(format: "WebP", reason: reason) }
        guard bytes.count >= 12, WebPStructure.fourCC(bytes, 0) == "RIFF", WebPStructure.fourCC(bytes, 8) == "WEBP"
        else {
            throw fail("no RIFF/WEBP header")
        }
        let riffEnd = 8 + WebPStructure.le32(bytes, 4)
        guard riffEnd >= 12 else { throw fail("RIFF size too small") }
        guard riffEnd <= bytes.count else {
            throw fail("truncated: the RIFF size says \(riffEnd) bytes, the file has \(bytes.count)")
        }
        var budget = StructureLimits.webpChunks
        chunks = try WebPStructure.chunks(bytes, 12..<riffEnd, nested: false, budget: &budget)
        guard let first = chunks.first, ["VP8 ", "VP8L", "VP8X"].contains(first.fourCC) else {
            throw fail("the first chunk is not VP8, VP8L or VP8X")
        }
        let frames = chunks.filter { $0.fourCC == "ANMF" }
        guard
            chunks.contains(where: { $0.fourCC == "VP8 " || $0.fourCC == "VP8L" })
                || frames.contains(where: { $0.frameChunks.contains { $0.fourCC == "VP8 " || $0.fourCC == "VP8L" } })
        else { throw fail("no image data (no VP8 or VP8L chunk)") }
        trailer = riffEnd < bytes.count ? riffEnd..<bytes.count : nil
    }

    static func chunks(_ bytes: [UInt8], _ range: Range<Int>, nested: Bool, budget: inout Int) throws(MediaError)
        -> [WebPChunk]
    {
        func fail(_ reason: String) -> MediaError { .malformed(format: "WebP", reason: reason) }
        var chunks: [WebPChunk] = []
        var position = range.lowerBound
        while position < range.upperBound {
            guard range.upperBound - position >= 8 else { throw fail("truncated chunk header at offset \(position)") }
            // Any four bytes name a chunk (writers exist that use "XMP\0"); unknown ones are dropped anyway.
            let name = String(
                bytes[position..<position + 4].map { $0 >= 0x20 && $0 < 0x7F ? Character(Unicode.Scalar($0)) : "?" })
            let size = le32(bytes, position + 4)
            let start = position + 8
            guard size <= range.upperBound - start else {
                throw fail("truncated: chunk \(name) at offset \(position) runs past the end of its container")
            }
            var chunk = WebPChunk(fourCC: name, offset: position, payload: start..<start + size)
            if name == "ANMF" {
                guard !nested else { throw fail("a frame inside a frame at offset \(position)") }
                guard size >= 16 else { throw fail("ANMF chunk at offset \(position) is shorter than its header") }
                chunk.frameChunks = try WebPStructure.chunks(
                    bytes, (start + 16)..<(start + size), nested: true, budget: &budget)
            }
            budget -= 1
            guard budget >= 0 else { throw StructureLimits.tooMany("chunks", StructureLimits.webpChunks) }
            chunks.append(chunk)
            position = start + size + (size & 1)
            if position > range.upperBound { position = range.upperBound }  // a final pad byte may be missing
        }
        return chunks
    }
}

/// Lossless WebP sanitizing: VP8/VP8L/ALPH/ANIM/ANMF kept (frames rebuilt from their image chunks), ICCP as an
/// option, a minimal EXIF holding only Orientation as an option; VP8X flags and the RIFF size fixed.
enum WebPSanitizer {
    static let coded: Set<String> = ["VP8 ", "VP8L", "ALPH", "ANIM", "ANMF"]
    static let frameCoded: Set<String> = ["VP8 ", "VP8L", "ALPH"]

    static func chunk(_ fourCC: String, _ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(payload.count)
        var out = Array(fourCC.utf8) + (0..<4).map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + payload
        if payload.count & 1 == 1 { out.append(0) }
        return out
    }

    /// The image chunks in order, frames rebuilt with only their image chunks: what `content_sha256` covers.
    static func codedChunks(_ bytes: [UInt8], _ structure: WebPStructure) -> [[UInt8]] {
        structure.chunks.filter { coded.contains($0.fourCC) }.map { item in
            if item.fourCC == "ANMF" {
                var payload = Array(bytes[item.payload.lowerBound..<item.payload.lowerBound + 16])
                for sub in item.frameChunks where frameCoded.contains(sub.fourCC) {
                    payload += chunk(sub.fourCC, Array(bytes[sub.payload]))
                }
                return chunk("ANMF", payload)
            }
            return chunk(item.fourCC, Array(bytes[item.payload]))
        }
    }

    /// `content_sha256` of a WebP: SHA-256 over the VP8, VP8L, ALPH, ANIM and ANMF chunks in file order, each as
    /// its FourCC, little-endian size, payload and pad byte, where each ANMF is taken with its 16-byte frame header
    /// and only its ALPH/VP8/VP8L chunks. VP8X, ICCP, EXIF, XMP and unknown chunks are excluded.
    static func contentSHA256(_ bytes: [UInt8], _ structure: WebPStructure) -> String {
        var hasher = RangeHasher()
        for item in codedChunks(bytes, structure) { hasher.update(item) }
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

    static func sanitize(_ bytes: [UInt8], _ structure: WebPStructure, options: SanitizeOptions) throws(MediaError)
        -> (output: [UInt8], orientation: Int?, removed: [String])
    {
        var removed = RemovedLog()
        let vp8x = structure.chunks.first { $0.fourCC == "VP8X" }
        let icc = options.keepICC && vp8x != nil ? structure.chunks.first { $0.fourCC == "ICCP" } : nil
        // The profile as published (ICCProfile.published): colour tags only, header fields zeroed.
        let iccPayload = try icc.map { (chunk) throws(MediaError) in try ICCProfile.published(Array(bytes[chunk.payload])) }
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
        let coded = codedChunks(bytes, structure)
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
        return (
            Array("RIFF".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + body, orientation,
            removed.summary
        )
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
        guard contentSHA256(output, structure) == expectedContent else {
            throw fail("coded image data (content_sha256) changed")
        }
    }
}
