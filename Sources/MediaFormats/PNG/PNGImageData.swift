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
    /// APNG: for each fdAT chunk whose frame's zlib stream ends before the chunk's data does (by the chunk's
    /// offset), the bytes of its data after the sequence number a decoder reads.
    var frameData: [Int: Int] = [:]

    /// The data of a fdAT chunk as published: its sequence number and what its frame's stream uses of the rest.
    func clippedFrame(_ chunk: PNGChunk) -> Range<Int> {
        guard let keep = frameData[chunk.offset] else { return chunk.data }
        return chunk.data.lowerBound..<(chunk.data.lowerBound + 4 + keep)
    }

    /// The IDAT data `chunk` (one of the picture's chunks, in order) contributes, given what chunks before it gave.
    func clipped(_ chunk: PNGChunk, after before: Int) -> Range<Int> {
        let take = max(0, min(chunk.data.count, used - before))
        return chunk.data.lowerBound..<(chunk.data.lowerBound + take)
    }
}

extension PNGSanitizer {
    /// The bytes the image rows need once inflated: IHDR's rows, each a filter byte and its pixels (Adam7: the seven
    /// passes' rows). Nil when IHDR's fields are not a picture libpng reads.
    static func expectedImageBytes(
        _ bytes: [UInt8], _ structure: PNGStructure, limits: MediaLimits, frame: (width: Int, height: Int)? = nil
    ) throws(MediaError) -> Int {
        let ihdr = structure.chunks[0].data.lowerBound
        let width = frame?.width ?? Bytes.be(bytes, ihdr, 4)
        let height = frame?.height ?? Bytes.be(bytes, ihdr + 4, 4)
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
            var image = PNGImageData(used: Int(consumed), total: joined.count)
            image.frameData = try frameData(bytes, structure, limits: limits)
            return image
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
            throw .malformed(
                format: "PNG",
                reason: "its image data holds \(bytes[ihdr + 12] == 1 ? "at least " : "")\(extra) more rows than the "
                    + "picture shows (its header declares fewer rows than are coded: hidden pixels); save the picture "
                    + "again")
        default:
            var image = PNGImageData(used: joined.count, total: joined.count)
            image.frameData = try frameData(bytes, structure, limits: limits)
            return image
        }
    }

    /// APNG frames: each fcTL's fdAT data (after the sequence numbers) joined is one zlib stream of the frame's
    /// rows. Where it ends before the data does, what each fdAT keeps; more data than the frame's rows is refused.
    static func frameData(_ bytes: [UInt8], _ structure: PNGStructure, limits: MediaLimits) throws(MediaError)
        -> [Int: Int]
    {
        var kept: [Int: Int] = [:]
        var index = 0
        var frame = 0
        let chunks = structure.chunks
        while index < chunks.count {
            guard chunks[index].type == "fcTL", chunks[index].data.count == 26 else {
                index += 1
                continue
            }
            frame += 1
            let control = chunks[index].offset
            let at = chunks[index].data.lowerBound
            let size = (width: Bytes.be(bytes, at + 4, 4), height: Bytes.be(bytes, at + 8, 4))
            var parts: [PNGChunk] = []
            index += 1
            while index < chunks.count, chunks[index].type == "fdAT" {
                if chunks[index].data.count >= 4 { parts.append(chunks[index]) }
                index += 1
            }
            guard !parts.isEmpty, size.width > 0, size.height > 0 else { continue }
            let expected = try expectedImageBytes(bytes, structure, limits: limits, frame: size)
            var joined: [UInt8] = []
            for part in parts { joined += bytes[(part.data.lowerBound + 4)..<part.data.upperBound] }
            var consumed: UInt64 = 0
            var inflated: UInt64 = 0
            let status = joined.withUnsafeBufferPointer { buffer in
                cgshim_zlib_stream_end(buffer.baseAddress, buffer.count, UInt64(expected), &consumed, &inflated)
            }
            if status == CGSHIM_LIMIT {
                throw .malformed(
                    format: "PNG",
                    reason: "APNG frame \(frame) (fcTL at offset \(control)) holds more image "
                        + "data than its \(size.width)x\(size.height) pixels (hidden pixels); save the animation again")
            }
            guard status == CGSHIM_OK, Int(consumed) < joined.count else { continue }
            var before = 0
            for part in parts {
                let count = part.data.count - 4
                let keep = max(0, min(count, Int(consumed) - before))
                if keep < count { kept[part.offset] = keep }
                before += count
            }
        }
        return kept
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
                } else if chunk.type == "fdAT", let image {
                    ranges.append(image.clippedFrame(chunk))
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

    /// A fdAT chunk as published: whole, or cut after its frame's zlib stream (an fdAT wholly after it keeps its
    /// sequence number, so the numbers stay consecutive).
    static func publishedFrameData(_ bytes: [UInt8], _ chunk: PNGChunk, image: PNGImageData) -> [UInt8] {
        let kept = image.clippedFrame(chunk)
        if kept.count == chunk.data.count { return Array(bytes[chunk.bytes]) }
        return PNGSanitizer.chunk("fdAT", Array(bytes[kept]))
    }

    /// An IDAT chunk as published: whole, cut at the end of the zlib stream (CRC recomputed), or nil (after it).
    static func publishedIDAT(_ bytes: [UInt8], _ chunk: PNGChunk, image: PNGImageData, before: Int) -> [UInt8]? {
        let kept = image.clipped(chunk, after: before)
        if kept.isEmpty { return nil }
        if kept.count == chunk.data.count { return Array(bytes[chunk.bytes]) }
        return PNGSanitizer.chunk("IDAT", Array(bytes[kept]))
    }
}
