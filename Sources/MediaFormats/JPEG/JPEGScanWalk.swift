import ByteKit
internal import CMediaShims

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
    /// For progressive AC refinement: which of coefficients 1...63 of each block are non-zero (bit k); allocated
    /// by the first AC scan and freed by `codedPlan`.
    var nonZero: UnsafeMutablePointer<UInt64>? = nil
    /// A progressive AC scan of this component ran out of data: its coefficients are not known exactly.
    var uncertain = false
}

/// A component as one scan codes it.
struct JPEGScanComponent {
    var frameIndex: Int
    var dc: UnsafePointer<cgshim_huffman>?
    var ac: UnsafePointer<cgshim_huffman>?
}

/// The scan parameters after the components (spectral selection and successive approximation).
struct JPEGScanParameters {
    var ss: Int
    var se: Int
    var ah: Int
    var al: Int
    var progressive: Bool
}

/// Walks a scan's entropy-coded data as libjpeg decodes it, block by block (`cgshim_jpeg_walk_interval`), to find
/// which bytes it reads: the data of each restart interval up to the byte holding its last used bit, and each
/// restart marker. Whatever else the scan data holds (bytes after the last block, before a restart marker, extra
/// restart markers) no decoder reads.
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
        func fail(_ why: String) -> MediaError {
            .malformed(format: "JPEG", reason: "the scan at offset \(offset) \(why)")
        }
        let interleaved = scanComponents.count > 1
        let total: Int
        if interleaved {
            total = ((width + 8 * hMax - 1) / (8 * hMax)) * ((height + 8 * vMax - 1) / (8 * vMax))
        } else {
            total = frame[scanComponents[0].frameIndex].blocksWide * frame[scanComponents[0].frameIndex].blocksHigh
        }
        let acScan = p.progressive && p.ss > 0
        if acScan {
            let index = scanComponents[0].frameIndex
            if frame[index].nonZero == nil {
                let state = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, total))
                state.initialize(repeating: 0, count: max(1, total))
                frame[index].nonZero = state
            }
            if p.ah > 0 && frame[index].uncertain {
                throw fail(
                    "refines coefficients an earlier scan left incomplete (its data ran out): which bytes a viewer "
                        + "reads cannot be told; save the picture again as a complete JPEG")
            }
        }
        let components = scanComponents.map { c in
            cgshim_scan_component(
                dc: c.dc, ac: c.ac, blocks: Int32(interleaved ? frame[c.frameIndex].h * frame[c.frameIndex].v : 1),
                nonzero: acScan ? frame[c.frameIndex].nonZero : nil)
        }
        var parameters = cgshim_scan_parameters(
            ss: Int32(p.ss), se: Int32(p.se), ah: Int32(p.ah), al: Int32(p.al), progressive: p.progressive ? 1 : 0)
        var kept: [Range<Int>] = []
        var ranOut = false
        var mcu = 0
        var start = data.lowerBound
        var expectedRestart = 0
        while mcu < total {
            let count = restartInterval > 0 ? min(total - mcu, restartInterval) : total - mcu
            var used = 0
            var intervalRanOut: Int32 = 0
            let status = components.withUnsafeBufferPointer { list in
                cgshim_jpeg_walk_interval(
                    base.baseAddress, start, data.upperBound, list.baseAddress, Int32(list.count), &parameters, mcu,
                    count, &used, &intervalRanOut)
            }
            guard status == CGSHIM_OK else {
                throw fail("holds a Huffman code its table does not define (damaged data)")
            }
            if intervalRanOut != 0 { ranOut = true }
            mcu += count
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
}
