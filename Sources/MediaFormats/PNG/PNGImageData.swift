import ByteKit
internal import CMediaShims

/// The image data as libpng reads it: the IDAT chunks' data joined, up to the end of its zlib stream. Bytes after
/// the stream's end (in the last IDAT it reaches, or in IDAT chunks after it) no decoder reads; they are not
/// published, and `content_sha256` does not cover them. Decompressed data beyond the rows IHDR declares is refused.
struct PNGImageData {
    /// Bytes of the joined IDAT data the zlib stream spans.
    var used: Int
    /// Bytes of IDAT data in the file.
    var total: Int

    /// The IDAT data `chunk` (one of the picture's chunks, in order) contributes, given what chunks before it gave.
    func clipped(_ chunk: PNGChunk, after before: Int) -> Range<Int> {
        let take = max(0, min(chunk.data.count, used - before))
        return chunk.data.lowerBound..<(chunk.data.lowerBound + take)
    }
}

extension PNGSanitizer {
    /// The bytes the image rows need once inflated: IHDR's rows, each a filter byte and its pixels (Adam7: the seven
    /// passes' rows). Nil when IHDR's fields are not a picture libpng reads.
    static func expectedImageBytes(_ bytes: [UInt8], _ structure: PNGStructure, limits: MediaLimits)
        throws(MediaError) -> Int
    {
        let ihdr = structure.chunks[0].data.lowerBound
        let width = Bytes.be(bytes, ihdr, 4)
        let height = Bytes.be(bytes, ihdr + 4, 4)
        let depth = Int(bytes[ihdr + 8])
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(bytes[ihdr + 9])] ?? 0
        guard width > 0, height > 0, channels > 0, [1, 2, 4, 8, 16].contains(depth) else {
            throw .malformed(format: "PNG", reason: "IHDR declares no picture libpng reads")
        }
        guard UInt64(width) * UInt64(height) <= limits.maxPixels else {
            throw .limitExceeded("\(width)x\(height) pixels")
        }
        let bits = channels * depth
        func rows(_ w: Int, _ h: Int) -> Int { w == 0 || h == 0 ? 0 : h * (1 + (w * bits + 7) / 8) }
        guard bytes[ihdr + 12] == 1 else { return rows(width, height) }
        let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        return passes.reduce(0) { total, pass in
            let w = width > pass.0 ? (width - pass.0 + pass.2 - 1) / pass.2 : 0
            let h = height > pass.1 ? (height - pass.1 + pass.3 - 1) / pass.3 : 0
            return total + rows(w, h)
        }
    }

    /// Inflates the IDAT data to find where its zlib stream ends. Refuses a stream that inflates to more than IHDR's
    /// rows need ("the picture holds N more rows than it shows"). A stream that is corrupt or cut short is left
    /// whole (every byte of it is read; libpng decides whether it decodes).
    static func imageData(_ bytes: [UInt8], _ structure: PNGStructure, limits: MediaLimits = .init())
        throws(MediaError) -> PNGImageData
    {
        let expected = try expectedImageBytes(bytes, structure, limits: limits)
        var joined: [UInt8] = []
        for chunk in structure.chunks where chunk.type == "IDAT" { joined += bytes[chunk.data] }
        var consumed: UInt64 = 0
        var inflated: UInt64 = 0
        let status = joined.withUnsafeBufferPointer { buffer in
            cgshim_zlib_stream_end(buffer.baseAddress, buffer.count, UInt64(expected), &consumed, &inflated)
        }
        switch status {
        case CGSHIM_OK:
            return PNGImageData(used: Int(consumed), total: joined.count)
        case CGSHIM_LIMIT:
            let ihdr = structure.chunks[0].data.lowerBound
            let width = Bytes.be(bytes, ihdr, 4)
            let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(bytes[ihdr + 9])] ?? 1
            let row = 1 + (width * channels * Int(bytes[ihdr + 8]) + 7) / 8
            var more: UInt64 = 0
            var total: UInt64 = 0
            _ = joined.withUnsafeBufferPointer { buffer in
                cgshim_zlib_stream_end(
                    buffer.baseAddress, buffer.count, UInt64(expected) + UInt64(limits.maxPixels) * 8, &more, &total)
            }
            let extra = max(1, (Int(total) - expected + row - 1) / row)
            throw .unsupported(
                "the PNG's image data holds \(bytes[ihdr + 12] == 1 ? "at least " : "")\(extra) more rows than the "
                    + "picture shows (its header declares fewer rows than are coded: hidden pixels); save the picture "
                    + "again")
        default:
            return PNGImageData(used: joined.count, total: joined.count)
        }
    }

    /// The bytes `content_sha256` covers (see `contentSHA256`), with IDAT data clipped to `image` when given.
    static func codedStream(_ bytes: [UInt8], _ structure: PNGStructure, image: PNGImageData?) -> [UInt8] {
        var stream: [UInt8] = []
        let chunks = structure.chunks.filter { codedTypes.contains($0.type) }
        var index = 0
        var before = 0
        while index < chunks.count {
            var end = index + 1
            if chunks[index].type == "IDAT" {
                while end < chunks.count, chunks[end].type == "IDAT" { end += 1 }
            }
            var ranges: [Range<Int>] = []
            for chunk in chunks[index..<end] {
                if chunk.type == "IDAT", let image {
                    ranges.append(image.clipped(chunk, after: before))
                    before += chunk.data.count
                } else {
                    ranges.append(chunk.data)
                }
            }
            let length = UInt64(ranges.reduce(0) { $0 + $1.count })
            if length > 0 || chunks[index].type != "IDAT" || image == nil {
                stream += Array(chunks[index].type.utf8)
                stream += (0..<8).reversed().map { UInt8(truncatingIfNeeded: length >> ($0 * 8)) }
                for range in ranges { stream += bytes[range] }
            }
            index = end
        }
        return stream
    }

    /// An IDAT chunk as published: whole, cut at the end of the zlib stream (CRC recomputed), or nil (after it).
    static func publishedIDAT(_ bytes: [UInt8], _ chunk: PNGChunk, image: PNGImageData, before: Int) -> [UInt8]? {
        let kept = image.clipped(chunk, after: before)
        if kept.isEmpty { return nil }
        if kept.count == chunk.data.count { return Array(bytes[chunk.bytes]) }
        return PNGSanitizer.chunk("IDAT", Array(bytes[kept]))
    }
}
