import ByteKit

/// A Huffman table as libjpeg derives it (ITU T.81 Annex C and F.2.2.3): enough to find where each code ends, which
/// is all the entropy walker needs (no coefficient is reconstructed).
struct JPEGHuffmanTable {
    /// For the next 9 bits: the code length (0 when the code is longer) and its symbol.
    var lookLength = [UInt8](repeating: 0, count: 512)
    var lookSymbol = [UInt8](repeating: 0, count: 512)
    /// The largest code of each length 1...16 (-1 when there is none); index 17 is a sentinel.
    var maxCode = [Int32](repeating: -1, count: 18)
    /// Symbol index minus first code, for each length.
    var valueOffset = [Int32](repeating: 0, count: 18)
    var values: [UInt8]

    /// Builds the table from a DHT's 16 counts and its symbols, refusing what libjpeg refuses ("bogus Huffman table
    /// definition": more than 256 symbols, codes that do not fit their length, a DC symbol over 15).
    init(counts: ArraySlice<UInt8>, values: ArraySlice<UInt8>, isDC: Bool) throws(MediaError) {
        func fail(_ why: String) -> MediaError { .malformed(format: "JPEG", reason: "a Huffman table \(why)") }
        let total = counts.reduce(0) { $0 + Int($1) }
        guard total <= 256, total == values.count else { throw fail("holds more than 256 codes") }
        self.values = Array(values)
        if isDC, self.values.contains(where: { $0 > 15 }) { throw fail("for DC holds a symbol over 15") }
        var code: Int32 = 0
        var index: Int32 = 0
        for length in 1...16 {
            let n = Int32(counts[counts.startIndex + length - 1])
            if n > 0 {
                valueOffset[length] = index - code
                for _ in 0..<n {
                    if length <= 9 {
                        let shift = 9 - length
                        let first = Int(code) << shift
                        for fill in 0..<(1 << shift) {
                            lookLength[first + fill] = UInt8(length)
                            lookSymbol[first + fill] = self.values[Int(index)]
                        }
                    }
                    code += 1
                    index += 1
                }
                maxCode[length] = code - 1
            }
            // libjpeg: no code may be all ones of its length ("code >= 1 << si" is bogus).
            guard code < (1 << length) else { throw fail("has codes that do not fit their lengths") }
            code <<= 1
        }
        maxCode[17] = Int32.max
    }
}

/// Reads entropy-coded bits the way libjpeg does: a 0xFF byte is data when followed by fill 0xFFs and a zero; any
/// other 0xFF pair is a marker, after which the reader supplies zero bits (libjpeg's "premature end of data").
/// It remembers where each loaded byte ends in the file, so the end of the last bit used can be told exactly.
struct JPEGBitReader {
    let base: UnsafeBufferPointer<UInt8>
    let end: Int
    /// The next file byte to load.
    var position: Int
    var accumulator: UInt64 = 0
    var bitsInAccumulator = 0
    /// Bits used since the start of the interval.
    var bitsUsed = 0
    /// Real (file) bytes loaded since the start of the interval, and where each of the last 16 ends.
    var bytesLoaded = 0
    var byteEnds = [Int](repeating: 0, count: 16)
    /// Where the marker that stopped loading starts (its first 0xFF), once one is met.
    var marker: Int?
    let intervalStart: Int

    init(_ base: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) {
        self.base = base
        self.end = end
        self.position = start
        self.intervalStart = start
    }

    private mutating func fill() {
        while bitsInAccumulator <= 56 {
            var byte: UInt8 = 0
            if marker == nil {
                if position >= end {
                    marker = end
                } else {
                    let c = base[position]
                    if c != 0xFF {
                        byte = c
                        position += 1
                    } else {
                        var next = position + 1
                        while next < end, base[next] == 0xFF { next += 1 }
                        if next < end, base[next] == 0 {
                            byte = 0xFF
                            position = next + 1
                        } else {
                            marker = position
                        }
                    }
                }
                if marker == nil {
                    byteEnds[bytesLoaded & 15] = position
                    bytesLoaded += 1
                }
            }
            accumulator = accumulator << 8 | UInt64(byte)
            bitsInAccumulator += 8
        }
    }

    mutating func peek(_ n: Int) -> Int {
        if bitsInAccumulator < n { fill() }
        return Int((accumulator >> UInt64(bitsInAccumulator - n)) & ((1 << UInt64(n)) - 1))
    }

    mutating func skip(_ n: Int) {
        if bitsInAccumulator < n { fill() }
        bitsInAccumulator -= n
        bitsUsed += n
    }

    /// The next Huffman symbol; nil for a code no table holds (libjpeg warns and decodes garbage: refused).
    mutating func symbol(_ table: JPEGHuffmanTable) -> UInt8? {
        let look = peek(9)
        let length = Int(table.lookLength[look])
        if length > 0 {
            skip(length)
            return table.lookSymbol[look]
        }
        var l = 10
        var code = Int32(peek(l))
        while code > table.maxCode[l] {
            l += 1
            if l > 16 { return nil }
            code = Int32(peek(l))
        }
        skip(l)
        return table.values[Int(code + table.valueOffset[l])]
    }

    /// Whether the bits used so far run into the marker (the decoder read zeros past the data).
    var ranOut: Bool { (bitsUsed + 7) / 8 > bytesLoaded }

    /// Where the data the decoder used ends: after the file byte holding the last bit used (its stuffed zero
    /// included), or at the marker when the bits ran out.
    var usedEnd: Int {
        let needed = (bitsUsed + 7) / 8
        if needed > bytesLoaded { return marker ?? position }
        if needed == 0 { return intervalStart }
        return byteEnds[(needed - 1) & 15]
    }
}
