import ByteKit
internal import CMediaShims

/// Lossless PNG sanitizing: the output is rebuilt from an allowlist of chunks, copied byte for byte.
enum PNGSanitizer: PictureRules {
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

    /// The IDAT data counts up to the end of its zlib stream (`PNGImageData`): bytes after it no decoder reads.
    static func contentSHA256(_ bytes: [UInt8], _ structure: PNGStructure) -> String {
        var hasher = RangeHasher()
        hasher.update(codedStream(bytes, structure, image: try? imageData(bytes, structure)))
        return hasher.finalize()
    }

    /// The profile of an iCCP chunk, inflated, when viewers would use it: a keyword of 1-79 bytes, compression
    /// method 0, a whole zlib stream inflating to at most `ICCProfile.maxBytes` bytes of a usable profile
    /// (`ICCProfile.isUsable`). Nil otherwise: a broken one is dropped, as libpng itself ignores it.
    static func iccProfile(_ bytes: [UInt8], _ chunk: PNGChunk) -> [UInt8]? {
        let data = bytes[chunk.data]
        guard let nul = data.firstIndex(of: 0), nul - data.startIndex <= 79, nul > data.startIndex,
            nul + 2 <= data.endIndex, data[nul + 1] == 0
        else { return nil }
        var inflated: UInt64 = 0
        var head = [UInt8](repeating: 0, count: 4)
        let length = chunk.data.upperBound - nul - 2
        let first = bytes.withUnsafeBufferPointer { buffer in
            cgshim_zlib_check(buffer.baseAddress! + nul + 2, length, UInt64(ICCProfile.maxBytes), &head, 4, &inflated)
        }
        guard first == CGSHIM_OK, inflated >= 132 else { return nil }
        var profile = [UInt8](repeating: 0, count: Int(inflated))
        let second = bytes.withUnsafeBufferPointer { buffer in
            profile.withUnsafeMutableBufferPointer { out in
                cgshim_zlib_check(
                    buffer.baseAddress! + nul + 2, length, UInt64(ICCProfile.maxBytes), out.baseAddress, out.count,
                    &inflated)
            }
        }
        guard second == CGSHIM_OK, Int(inflated) == profile.count, ICCProfile.isUsable(profile) else { return nil }
        return profile
    }

    static func isUsableICC(_ bytes: [UInt8], _ chunk: PNGChunk) -> Bool { iccProfile(bytes, chunk) != nil }

    /// The name a rebuilt iCCP chunk carries (the original keyword is free text).
    static let iccName = Array("ICC Profile".utf8)

    /// An iCCP chunk's data rebuilt: the fixed name, method 0, the published profile deflated.
    static func iccChunkData(_ profile: [UInt8]) throws(MediaError) -> [UInt8] {
        var size = cgshim_zlib_bound(profile.count)
        var compressed = [UInt8](repeating: 0, count: size)
        let status = profile.withUnsafeBufferPointer { input in
            compressed.withUnsafeMutableBufferPointer { out in
                cgshim_zlib_compress(input.baseAddress, input.count, out.baseAddress, &size)
            }
        }
        guard status == CGSHIM_OK else { throw .verificationFailed("zlib could not compress the ICC profile") }
        return iccName + [0, 0] + compressed[0..<size]
    }

    /// The first iCCP chunk viewers use (libpng ignores any after it), as (index in chunks, profile).
    static func usedICC(_ bytes: [UInt8], _ structure: PNGStructure) -> (chunk: Int, profile: [UInt8])? {
        for (index, chunk) in structure.chunks.enumerated() where chunk.type == "iCCP" && chunk.crcValid {
            if let profile = iccProfile(bytes, chunk) { return (index, profile) }
        }
        return nil
    }

    /// The data length a chunk must have, given the IHDR colour type and the palette's entry count; nil when any
    /// length is accepted (image data). A kept chunk larger than this would carry whatever follows its fields.
    static func definedLength(_ type: String, colourType: UInt8, paletteEntries: Int) -> ClosedRange<Int>? {
        switch type {
        case "IHDR": return 13...13
        case "IEND": return 0...0
        case "gAMA": return 4...4
        case "cHRM": return 32...32
        case "sRGB": return 1...1
        case "pHYs": return 9...9
        case "acTL": return 8...8
        case "fcTL": return 26...26
        case "sBIT":
            let n = [0: 1, 2: 3, 3: 3, 4: 2, 6: 4][Int(colourType)] ?? -1
            return n...n
        case "bKGD":
            let n = [0: 2, 4: 2, 2: 6, 6: 6, 3: 1][Int(colourType)] ?? -1
            return n...n
        case "tRNS":
            switch colourType {
            case 0: return 2...2
            case 2: return 6...6
            case 3: return 1...max(1, paletteEntries)
            default: return -1 ... -1
            }
        case "PLTE": return 3...768
        default: return nil
        }
    }

    /// Whether a chunk has its defined length (always true for chunks of any length: IDAT, fdAT over 4 bytes).
    static func hasDefinedLength(_ chunk: PNGChunk, _ structure: PNGStructure, _ bytes: [UInt8]) -> Bool {
        let colourType = bytes[structure.chunks[0].data.lowerBound + 9]
        let palette = structure.chunks.first { $0.type == "PLTE" }.map { $0.data.count / 3 } ?? 0
        if chunk.type == "fdAT" { return chunk.data.count >= 4 }
        if chunk.type == "PLTE" && chunk.data.count % 3 != 0 { return false }
        guard let range = definedLength(chunk.type, colourType: colourType, paletteEntries: palette) else {
            return true
        }
        return range.contains(chunk.data.count)
    }

    /// Chunks that decoders ignore when their length is wrong: dropped (and outside presented_sha256).
    static let ignoredWhenMalformed: Set<String> = ["gAMA", "cHRM", "sRGB", "pHYs", "sBIT", "bKGD"]

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

    /// The picture rebuilt from the allowlist and checked by `verify` before it is returned: no unverified output
    /// leaves this function.
    static func sanitize(_ bytes: [UInt8], _ structure: PNGStructure, options: SanitizeOptions) throws(MediaError)
        -> (output: [UInt8], orientation: Int?, removed: [String])
    {
        var output = PNGStructure.signature
        output.reserveCapacity(bytes.count)
        var removed = RemovedLog()
        var orientation: Int? = nil
        let icc = options.keepICC ? usedICC(bytes, structure) : nil
        let iccData = try icc.map { (found) throws(MediaError) in try iccChunkData(try ICCProfile.published(found.profile)) }
        let image = try imageData(bytes, structure, limits: options.limits)
        if !image.frameData.isEmpty {
            removed.note("unread frame data", "APNG frame data after the end of its zlib stream (\(image.frameData.count) fdAT chunks)")
        }
        if image.used < image.total {
            removed.note("unread image data", "\(image.total - image.used) bytes of IDAT data after the end of its zlib stream")
        }
        var imageBefore = 0
        for (index, chunk) in structure.chunks.enumerated() {
            if chunk.isCritical && !criticalTypes.contains(chunk.type) {
                throw .malformed(
                    format: "PNG", reason: "unknown critical chunk \(chunk.type) at offset \(chunk.offset)")
            }
            if let icc, index == icc.chunk, let iccData {
                output += PNGSanitizer.chunk("iCCP", iccData)
                continue
            }
            var keep = chunk.crcValid && (criticalTypes.contains(chunk.type) || keptAncillary.contains(chunk.type))
            if keep && !hasDefinedLength(chunk, structure, bytes) {
                if chunk.type == "IEND" {
                    // Rebuilt empty: its data would be published, and decoders ignore it.
                    output += PNGSanitizer.chunk("IEND", [])
                    removed.note("IEND data", "\(chunk.data.count) bytes of data in IEND")
                    continue
                }
                guard ignoredWhenMalformed.contains(chunk.type) else {
                    throw .malformed(
                        format: "PNG",
                        reason: "chunk \(chunk.type) at offset \(chunk.offset) has \(chunk.data.count) bytes of data, not its defined length")
                }
                keep = false
            }
            if keep && chunk.type == "IDAT" {
                if let piece = publishedIDAT(bytes, chunk, image: image, before: imageBefore) { output += piece }
                imageBefore += chunk.data.count
            } else if keep && chunk.type == "fdAT" {
                output += publishedFrameData(bytes, chunk, image: image)
            } else if keep {
                output += bytes[chunk.bytes]
            } else {
                removed.note(
                    chunk.type, "\(chunk.type) at offset \(chunk.offset)" + (chunk.crcValid ? "" : " (bad CRC)"))
            }
            if chunk.type == "IHDR", options.keepOrientation, let value = PNGSanitizer.orientation(bytes, structure) {
                guard let block = EXIF.minimalOrientationBlock(value) else {
                    throw .verificationFailed("libexif could not build the orientation block")
                }
                output += PNGSanitizer.chunk("eXIf", Array(block.dropFirst(EXIF.header.count)))
                orientation = value
            }
        }
        if let trailer = structure.trailer { removed.note("trailer", "\(trailer.count) bytes after IEND") }
        try verify(output, original: bytes, originalStructure: structure, orientation: orientation, options: options)
        return (output, orientation, removed.summary)
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
        var sawICC = false
        for chunk in structure.chunks {
            guard chunk.crcValid else { throw fail("chunk \(chunk.type) has a bad CRC") }
            if chunk.type == "eXIf" {
                guard !sawOrientation, TIFFDirectory.isOrientationOnly(tiff: output[chunk.data]),
                    let contents = EXIF.read(tiff: output[chunk.data]), contents.otherEntryCount == 0,
                    contents.thumbnailBytes == 0, contents.orientation == orientation
                else { throw fail("eXIf left in the output holds more than Orientation") }
                sawOrientation = true
            } else if chunk.type == "iCCP" {
                guard options.keepICC, !sawICC, let profile = iccProfile(output, chunk),
                    output[chunk.data].starts(with: iccName + [0, 0]),
                    (try? ICCProfile.published(profile)) == profile
                else {
                    throw fail("unusable, unwanted or unnormalized ICC profile left")
                }
                sawICC = true
            } else if !criticalTypes.contains(chunk.type) && !keptAncillary.contains(chunk.type) {
                throw fail("chunk \(chunk.type) left in the output")
            }
            guard hasDefinedLength(chunk, structure, output) else {
                throw fail("chunk \(chunk.type) is not its defined length")
            }
        }
        if orientation != nil && !sawOrientation { throw fail("orientation was lost") }
        _ = try ImageCodec.readHeader(.png, output, limits: options.limits)
        // The chunks content_sha256 covers must be identical, type and bytes, in the same order, and the output's
        // image data must end with its zlib stream.
        let image: PNGImageData
        let originalImage: PNGImageData
        do {
            image = try imageData(output, structure, limits: options.limits)
            originalImage = try imageData(original, originalStructure, limits: options.limits)
        } catch { throw fail("the image data cannot be inflated: \(error)") }
        guard image.used == image.total, image.frameData.isEmpty else {
            throw fail("the output holds image data no decoder reads")
        }
        guard
            codedStream(output, structure, image: image)
                == codedStream(original, originalStructure, image: originalImage)
        else { throw fail("coded image data (content_sha256) changed") }
    }
}
