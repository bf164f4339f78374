internal import CMediaShims

/// Lossless PNG sanitizing: the output is rebuilt from an allowlist of chunks, copied byte for byte.
enum PNGSanitizer {
    static let keptAncillary: Set<String> = [
        "tRNS", "gAMA", "cHRM", "sRGB", "pHYs", "sBIT", "bKGD", "acTL", "fcTL", "fdAT",
    ]
    static let criticalTypes: Set<String> = ["IHDR", "PLTE", "IDAT", "IEND"]
    /// Chunks that make up `content_sha256`.
    static let codedTypes: Set<String> = ["IHDR", "PLTE", "tRNS", "acTL", "fcTL", "IDAT", "fdAT"]

    /// `content_sha256` of a PNG: SHA-256 over IHDR, PLTE, tRNS, acTL, fcTL, IDAT and fdAT in file order,
    /// each as its 4-byte type, 8-byte big-endian data length and data; consecutive IDAT chunks count as
    /// one (their data joined), so re-splitting the image stream does not change the fingerprint.
    /// The chunks `content_sha256` covers, as (type, data range), in order.
    static func codedChunks(_ structure: PNGStructure) -> [(type: String, data: Range<Int>)] {
        structure.chunks.filter { codedTypes.contains($0.type) }.map { ($0.type, $0.data) }
    }

    static func contentSHA256(_ bytes: [UInt8], _ structure: PNGStructure) -> String {
        var hasher = RangeHasher()
        let chunks = structure.chunks.filter { codedTypes.contains($0.type) }
        var index = 0
        while index < chunks.count {
            var end = index + 1
            if chunks[index].type == "IDAT" {
                while end < chunks.count, chunks[end].type == "IDAT" { end += 1 }
            }
            let run = chunks[index..<end]
            let length = UInt64(run.reduce(0) { $0 + $1.data.count })
            hasher.update(
                Array(chunks[index].type.utf8)
                    + (0..<8).reversed().map { UInt8(truncatingIfNeeded: length >> ($0 * 8)) })
            for chunk in run { hasher.update(bytes, chunk.data) }
            index = end
        }
        return hasher.finalize()
    }

    /// An iCCP chunk is kept only when it holds a whole zlib stream that inflates to an ICC profile
    /// (size field matching, "acsp" signature). A broken one is dropped, as libpng itself ignores it.
    static func isUsableICC(_ bytes: [UInt8], _ chunk: PNGChunk) -> Bool {
        let data = bytes[chunk.data]
        guard let nul = data.firstIndex(of: 0), nul - data.startIndex <= 79, nul + 2 <= data.endIndex,
            data[nul + 1] == 0
        else { return false }
        var head = [UInt8](repeating: 0, count: 128)
        var inflated: UInt64 = 0
        let status = bytes.withUnsafeBufferPointer { buffer in
            cgshim_zlib_check(
                buffer.baseAddress! + nul + 2, chunk.data.upperBound - nul - 2, 64 << 20, &head, 128, &inflated)
        }
        guard status == CGSHIM_OK, inflated >= 128 else { return false }
        let declared = head[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return declared == inflated && head[36..<40].elementsEqual(Array("acsp".utf8))
    }

    static func orientation(_ bytes: [UInt8], _ structure: PNGStructure) -> Int? {
        guard let exif = structure.chunks.first(where: { $0.type == "eXIf" && $0.crcValid }) else { return nil }
        return EXIF.read(tiff: bytes[exif.data])?.orientation
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let length = UInt32(data.count)
        var out: [UInt8] = (0..<4).reversed().map { UInt8(truncatingIfNeeded: length >> ($0 * 8)) }
        let body = Array(type.utf8) + data
        let crc = body.withUnsafeBufferPointer { cgshim_crc32(0, $0.baseAddress, $0.count) }
        out += body
        out += (0..<4).reversed().map { UInt8(truncatingIfNeeded: crc >> ($0 * 8)) }
        return out
    }

    static func sanitize(_ bytes: [UInt8], _ structure: PNGStructure, options: SanitizeOptions) throws(MediaError)
        -> (output: [UInt8], orientation: Int?, removed: [String])
    {
        var output = PNGStructure.signature
        output.reserveCapacity(bytes.count)
        var removed: [String] = []
        var orientation: Int? = nil
        for chunk in structure.chunks {
            if chunk.isCritical && !criticalTypes.contains(chunk.type) {
                throw .malformed(
                    format: "PNG", reason: "unknown critical chunk \(chunk.type) at offset \(chunk.offset)")
            }
            let keep =
                chunk.crcValid
                && (criticalTypes.contains(chunk.type) || keptAncillary.contains(chunk.type)
                    || (chunk.type == "iCCP" && options.keepICC && PNGSanitizer.isUsableICC(bytes, chunk)))
            if keep {
                output += bytes[chunk.bytes]
            } else {
                removed.append("\(chunk.type) at offset \(chunk.offset)" + (chunk.crcValid ? "" : " (bad CRC)"))
            }
            if chunk.type == "IHDR", options.keepOrientation, let value = PNGSanitizer.orientation(bytes, structure) {
                guard let block = EXIF.minimalOrientationBlock(value) else {
                    throw .verificationFailed("libexif could not build the orientation block")
                }
                output += PNGSanitizer.chunk("eXIf", Array(block.dropFirst(EXIF.header.count)))
                orientation = value
            }
        }
        if let trailer = structure.trailer { removed.append("\(trailer.count) bytes after IEND") }
        return (output, orientation, removed)
    }

    /// Re-reads a sanitized PNG: only allowlisted chunks with valid CRCs, eXIf with Orientation only,
    /// a clean libpng header read, and unchanged coded data under `content_sha256`.
    static func verify(
        _ output: [UInt8], original: [UInt8], originalStructure: PNGStructure, orientation: Int?,
        options: SanitizeOptions
    ) throws(MediaError) {
        func fail(_ why: String) -> MediaError { .verificationFailed(why) }
        let structure: PNGStructure
        do { structure = try PNGStructure(parsing: output) } catch { throw fail("output does not parse: \(error)") }
        guard structure.trailer == nil else { throw fail("output has data after IEND") }
        var sawOrientation = false
        for chunk in structure.chunks {
            guard chunk.crcValid else { throw fail("chunk \(chunk.type) has a bad CRC") }
            if chunk.type == "eXIf" {
                guard !sawOrientation, TIFFDirectory.isOrientationOnly(tiff: output[chunk.data]),
                    let contents = EXIF.read(tiff: output[chunk.data]), contents.otherEntryCount == 0,
                    contents.thumbnailBytes == 0, contents.orientation == orientation
                else { throw fail("eXIf left in the output holds more than Orientation") }
                sawOrientation = true
            } else if chunk.type == "iCCP" {
                guard options.keepICC, isUsableICC(output, chunk) else {
                    throw fail("unusable or unwanted ICC profile left")
                }
            } else if !criticalTypes.contains(chunk.type) && !keptAncillary.contains(chunk.type) {
                throw fail("chunk \(chunk.type) left in the output")
            }
        }
        if orientation != nil && !sawOrientation { throw fail("orientation was lost") }
        _ = try ImageCodec.readHeader(.png, output, limits: options.limits)
        // The chunks content_sha256 covers must be identical, type and bytes, in the same order.
        let produced = codedChunks(structure)
        let expected = codedChunks(originalStructure)
        guard produced.map(\.type) == expected.map(\.type),
            CodedData.equal(output, produced.map(\.data), original, expected.map(\.data))
        else { throw fail("coded image data (content_sha256) changed") }
    }
}
