import ByteKit

/// A GIF frame's LZW data as decoders read it: codes up to the end-of-information code. Sub-blocks after the one
/// holding that code's last bit no decoder reads; they are not published (the sub-block holding it is shortened,
/// the others copied as they are). Codes after the frame's last pixel (a picture hidden after the frame) are refused.
extension GIFSanitizer {
    /// The image block as published: unchanged, or cut after the end-of-information code.
    static func publishedImage(_ bytes: [UInt8], _ block: GIFBlock) throws(MediaError) -> [UInt8] {
        func fail(_ why: String) -> MediaError {
            .malformed(format: "GIF", reason: "the frame at offset \(block.range.lowerBound) \(why)")
        }
        let start = block.range.lowerBound
        let packed = bytes[start + 9]
        let codeSizeAt = start + 10 + (packed & 0x80 != 0 ? 3 << ((Int(packed) & 7) + 1) : 0)
        let width = Int(bytes[start + 5]) | Int(bytes[start + 6]) << 8
        let height = Int(bytes[start + 7]) | Int(bytes[start + 8]) << 8
        let minimum = Int(bytes[codeSizeAt])
        guard (1...11).contains(minimum) else {
            throw fail("has an LZW code size of \(minimum), which decoders refuse")
        }
        // The sub-blocks: (offset of the size byte, size).
        var subBlocks: [(at: Int, size: Int)] = []
        var at = codeSizeAt + 1
        while at < block.range.upperBound, bytes[at] != 0 {
            subBlocks.append((at, Int(bytes[at])))
            at += 1 + Int(bytes[at])
        }
        let total = subBlocks.reduce(0) { $0 + $1.size }
        guard let end = try lzwEnd(bytes, subBlocks, minimum: minimum, pixels: width * height, fail),
            end < total
        else { return Array(bytes[block.range]) }
        var output = Array(bytes[start...codeSizeAt])
        var before = 0
        for sub in subBlocks {
            let take = min(sub.size, end - before)
            if take <= 0 { break }
            output.append(UInt8(take))
            output += bytes[(sub.at + 1)..<(sub.at + 1 + take)]
            before += sub.size
        }
        output.append(0)
        return output
    }

    /// How many bytes of the frame's joined sub-block data the decoder reads: up to the end-of-information code.
    /// Nil when the data ends first (every byte is read).
    private static func lzwEnd(
        _ bytes: [UInt8], _ subBlocks: [(at: Int, size: Int)], minimum: Int, pixels: Int,
        _ fail: (String) -> MediaError
    ) throws(MediaError) -> Int? {
        let clear = 1 << minimum
        let endCode = clear + 1
        var size = minimum + 1
        var next = clear + 2
        var previous = -1
        var lengths = [Int](repeating: 1, count: 4096)
        var shown = 0
        var accumulator = 0
        var bits = 0
        var consumedBytes = 0
        var sub = 0
        var inSub = 0
        while true {
            while bits < size {
                while sub < subBlocks.count, inSub == subBlocks[sub].size {
                    sub += 1
                    inSub = 0
                }
                guard sub < subBlocks.count else { return nil }
                accumulator |= Int(bytes[subBlocks[sub].at + 1 + inSub]) << bits
                inSub += 1
                consumedBytes += 1
                bits += 8
            }
            let code = accumulator & ((1 << size) - 1)
            accumulator >>= size
            bits -= size
            if code == clear {
                size = minimum + 1
                next = clear + 2
                previous = -1
                continue
            }
            if code == endCode { return consumedBytes }
            guard shown < pixels else {
                throw fail(
                    "codes more pixels than its \(pixels) (a picture hidden after the frame): save the animation again")
            }
            let length: Int
            if previous < 0 {
                guard code < clear else { throw fail("holds damaged LZW data") }
                length = 1
            } else if code < next {
                length = lengths[code]
            } else if code == next {
                length = lengths[previous] + 1
            } else {
                throw fail("holds damaged LZW data")
            }
            if previous >= 0 && next < 4096 {
                lengths[next] = lengths[previous] + 1
                next += 1
                if next == 1 << size && size < 12 { size += 1 }
            }
            shown += length
            previous = code
        }
    }

    /// Every image block as published, by its index in `structure.blocks`.
    static func publishedImages(_ bytes: [UInt8], _ structure: GIFStructure) throws(MediaError) -> [Int: [UInt8]] {
        var images: [Int: [UInt8]] = [:]
        for (index, block) in structure.blocks.enumerated() where block.kind == .image {
            images[index] = try publishedImage(bytes, block)
        }
        return images
    }
}
