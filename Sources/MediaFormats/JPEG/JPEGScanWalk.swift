import ByteKit

/// One component of the frame header, with what the scans have coded of it so far.
struct JPEGFrameComponent {
    var id: UInt8
    var h: Int
    var v: Int
    var quantTable: Int
    /// Blocks across and down when the component is coded alone (libjpeg's width_in_blocks, height_in_blocks).
    var blocksWide: Int
    var blocksHigh: Int
    /// The successive-approximation bit each coefficient was last coded to (-1: never), as libjpeg tracks it.
    var coefficientBits = [Int](repeating: -1, count: 64)
    /// For progressive AC refinement: which of coefficients 1...63 of each block are non-zero (bit k).
    var nonZero: [UInt64] = []
    /// A progressive AC scan of this component ran out of data: its coefficients are not known exactly.
    var uncertain = false
}

/// A component as one scan codes it.
struct JPEGScanComponent {
    var frameIndex: Int
    var dc: JPEGHuffmanTable?
    var ac: JPEGHuffmanTable?
}

/// The scan parameters after the components (spectral selection and successive approximation).
struct JPEGScanParameters {
    var ss: Int
    var se: Int
    var ah: Int
    var al: Int
    var progressive: Bool
}

/// Walks a scan's entropy-coded data as libjpeg decodes it, block by block, to find which bytes it reads: the
/// data of each restart interval up to the byte holding its last used bit, and each restart marker. Whatever
/// else the scan data holds (bytes after the last block, before a restart marker, extra restart markers) no
/// decoder reads.
struct JPEGScanWalk {
    let width: Int
    let height: Int
    let hMax: Int
    let vMax: Int
    let restartInterval: Int

    /// The ranges of `data` the decoder reads, in order, and whether the data ran out before the last block.
    func walk(
        _ base: UnsafeBufferPointer<UInt8>, data: Range<Int>, components scanComponents: [JPEGScanComponent],
        frame: inout [JPEGFrameComponent], _ p: JPEGScanParameters, offset: Int
    ) throws(MediaError) -> (kept: [Range<Int>], ranOut: Bool) {
        func fail(_ why: String) -> MediaError { .malformed(format: "JPEG", reason: "the scan at offset \(offset) \(why)") }
        let interleaved = scanComponents.count > 1
        let mcusWide: Int
        let mcusHigh: Int
        if interleaved {
            mcusWide = (width + 8 * hMax - 1) / (8 * hMax)
            mcusHigh = (height + 8 * vMax - 1) / (8 * vMax)
        } else {
            mcusWide = frame[scanComponents[0].frameIndex].blocksWide
            mcusHigh = frame[scanComponents[0].frameIndex].blocksHigh
        }
        let total = mcusWide * mcusHigh
        let acScan = p.progressive && p.ss > 0
        if acScan {
            let index = scanComponents[0].frameIndex
            if frame[index].nonZero.isEmpty { frame[index].nonZero = [UInt64](repeating: 0, count: total) }
            if p.ah > 0 && frame[index].uncertain {
                throw fail(
                    "refines coefficients an earlier scan left incomplete (its data ran out): which bytes a viewer "
                        + "reads cannot be told; save the picture again as a complete JPEG")
            }
        }
        var kept: [Range<Int>] = []
        var ranOut = false
        var mcu = 0
        var start = data.lowerBound
        var expectedRestart = 0
        while mcu < total {
            let intervalEnd = restartInterval > 0 ? min(total, mcu + restartInterval) : total
            var reader = JPEGBitReader(base, from: start, to: data.upperBound)
            var eobRun = 0
            while mcu < intervalEnd {
                var state: UInt64 = 0
                if interleaved {
                    for component in scanComponents {
                        let c = frame[component.frameIndex]
                        for _ in 0..<(c.h * c.v) { try block(&reader, component, p, &eobRun, &state, fail) }
                    }
                } else if acScan {
                    let index = scanComponents[0].frameIndex
                    state = frame[index].nonZero[mcu]
                    try block(&reader, scanComponents[0], p, &eobRun, &state, fail)
                    frame[index].nonZero[mcu] = state
                } else {
                    try block(&reader, scanComponents[0], p, &eobRun, &state, fail)
                }
                mcu += 1
                if reader.ranOut {
                    // libjpeg leaves the rest of the interval empty once its data runs out.
                    ranOut = true
                    mcu = intervalEnd
                }
            }
            let used = reader.usedEnd
            if used > start { kept.append(start..<used) }
            if mcu >= total { break }
            // The restart marker: libjpeg skips anything up to the next marker, which must be the expected RSTn.
            var q = used
            var marker: Int? = nil
            while q < data.upperBound {
                guard base[q] == 0xFF else {
                    q += 1
                    continue
                }
                let first = q
                while q < data.upperBound, base[q] == 0xFF { q += 1 }
                guard q < data.upperBound else { break }
                if base[q] == 0 {
                    q += 1
                    continue
                }
                marker = first
                break
            }
            guard let marker else {
                // The scan ends (the next segment's marker) before all its intervals: libjpeg shows them empty.
                ranOut = true
                break
            }
            let code = base[q]
            guard code == 0xD0 + UInt8(expectedRestart) else {
                throw fail(
                    "has restart marker RST\(code - 0xD0) at offset \(marker) where RST\(expectedRestart) belongs: "
                        + "decoders resynchronise by guessing; save the picture again")
            }
            kept.append(q - 1..<q + 1)
            start = q + 1
            expectedRestart = (expectedRestart + 1) & 7
        }
        if ranOut && acScan { frame[scanComponents[0].frameIndex].uncertain = true }
        return (kept, ranOut)
    }

    /// One block of the scan, as libjpeg's jdhuff.c (sequential) or jdphuff.c (progressive) decodes it.
    private func block(
        _ r: inout JPEGBitReader, _ c: JPEGScanComponent, _ p: JPEGScanParameters, _ eobRun: inout Int,
        _ state: inout UInt64, _ fail: (String) -> MediaError
    ) throws(MediaError) {
        func symbol(_ table: JPEGHuffmanTable?) throws(MediaError) -> Int {
            guard let table, let s = r.symbol(table) else {
                throw fail("holds a Huffman code its table does not define (damaged data)")
            }
            return Int(s)
        }
        func bits(_ n: Int) -> Int {
            let value = r.peek(n)
            r.skip(n)
            return value
        }
        if !p.progressive {
            let s = try symbol(c.dc)
            if s > 0 { r.skip(s) }
            var k = 1
            while k < 64 {
                let rs = try symbol(c.ac)
                let run = rs >> 4
                let size = rs & 15
                if size != 0 {
                    k += run
                    r.skip(size)
                } else {
                    if run != 15 { break }
                    k += 15
                }
                k += 1
            }
            return
        }
        if p.ss == 0 {
            if p.ah == 0 {
                let s = try symbol(c.dc)
                if s > 0 { r.skip(s) }
            } else {
                r.skip(1)
            }
            return
        }
        if p.ah == 0 {
            if eobRun > 0 {
                eobRun -= 1
                return
            }
            var k = p.ss
            while k <= p.se {
                let rs = try symbol(c.ac)
                let run = rs >> 4
                let size = rs & 15
                if size != 0 {
                    k += run
                    let raw = bits(size)
                    let value = raw < (1 << (size - 1)) ? raw - (1 << size) + 1 : raw
                    // libjpeg stores the value shifted into a 16-bit coefficient (k past 63 lands on 63).
                    let stored = Int16(truncatingIfNeeded: value << p.al)
                    let bit = UInt64(1) << UInt64(min(k, 63))
                    state = stored != 0 ? state | bit : state & ~bit
                } else if run == 15 {
                    k += 15
                } else {
                    eobRun = (1 << run) + (run > 0 ? bits(run) : 0) - 1
                    break
                }
                k += 1
            }
            return
        }
        // AC refinement: correction bits for coefficients already non-zero, new ones placed after runs of zeros.
        var k = p.ss
        if eobRun == 0 {
            while k <= p.se {
                let rs = try symbol(c.ac)
                var run = rs >> 4
                let size = rs & 15
                if size != 0 {
                    r.skip(1)
                } else if run != 15 {
                    eobRun = (1 << run) + (run > 0 ? bits(run) : 0)
                    break
                }
                repeat {
                    if state & (UInt64(1) << UInt64(k)) != 0 {
                        r.skip(1)
                    } else {
                        run -= 1
                        if run < 0 { break }
                    }
                    k += 1
                } while k <= p.se
                if size != 0 { state |= UInt64(1) << UInt64(min(k, 63)) }
                k += 1
            }
        }
        if eobRun > 0 {
            while k <= p.se {
                if state & (UInt64(1) << UInt64(k)) != 0 { r.skip(1) }
                k += 1
            }
            eobRun -= 1
        }
    }
}
