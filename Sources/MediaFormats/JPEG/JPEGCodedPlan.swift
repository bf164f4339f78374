import ByteKit
internal import CMediaShims

/// What of a JPEG's coded segments a decoder reads, found by walking them as libjpeg does: each scan trimmed to the
/// bytes its blocks use (`JPEGScanWalk`), each DHT and DQT holding only the tables a scan or component uses. The
/// sanitizer writes these pieces, and `content_sha256` covers them, so a picture with unread bytes has the
/// fingerprint of the same picture without them.
struct JPEGCodedPlan {
    /// For each coded segment, by its index in `structure.segments`: the bytes written for it (nil: dropped).
    var pieces: [Int: [UInt8]] = [:]
    /// What was left out, for the removed list (key, detail).
    var removed: [(String, String)] = []

    /// The coded segments as published, in file order.
    func codedBytes(_ structure: JPEGStructure) -> [UInt8] {
        var output: [UInt8] = []
        for index in structure.segments.indices { if let piece = pieces[index] { output += piece } }
        return output
    }
}

extension JPEGSanitizer {
    /// A table definition inside a DHT or DQT segment: where it is, and whether anything uses it.
    private struct TableDefinition {
        var segment: Int
        var bytes: Range<Int>
        var used = false
    }

    /// Walks the coded segments of a baseline, extended or progressive Huffman JPEG. Refuses (with the reason) what
    /// it cannot walk or what hides a picture: other codings, a DNL row count, a scan that codes a component or
    /// coefficient again over an earlier one, damaged entropy data, misnumbered restart markers.
    static func codedPlan(_ bytes: [UInt8], _ structure: JPEGStructure, limits: MediaLimits = .init())
        throws(MediaError) -> JPEGCodedPlan
    {
        func fail(_ why: String) -> MediaError { .malformed(format: "JPEG", reason: why) }
        try checkCodedSegmentSizes(bytes, structure)
        guard let frameIndex = structure.segments.firstIndex(where: { $0.kind == .frame }) else {
            throw fail("no frame header")
        }
        let frameSegment = structure.segments[frameIndex]
        let marker = frameSegment.marker
        guard marker == 0xC0 || marker == 0xC1 || marker == 0xC2 else {
            let what =
                marker == 0xC3
                ? "a lossless" : (0xC9...0xCB).contains(marker) ? "an arithmetic-coded" : "a hierarchical"
            throw .unsupported(
                "\(what) JPEG (\(frameSegment.name)): ConsentGate cannot tell which of its bytes a viewer reads; "
                    + "save the picture as a baseline or progressive JPEG")
        }
        let progressive = marker == 0xC2
        let f = frameSegment.payload.lowerBound
        let height = Bytes.be(bytes, f + 1, 2)
        let width = Bytes.be(bytes, f + 3, 2)
        guard height > 0, !structure.segments.contains(where: { $0.kind == .numberOfLines }) else {
            throw fail(
                "the frame header leaves its row count to a DNL marker, which viewers do not agree on: "
                    + "save the picture again (any editor writes the row count in the frame header)")
        }
        guard width > 0, UInt64(width) * UInt64(height) <= limits.maxPixels else {
            throw .limitExceeded("\(width)x\(height) pixels")
        }
        var frame: [JPEGFrameComponent] = []
        for i in 0..<Int(bytes[f + 5]) {
            let at = f + 6 + 3 * i
            let h = Int(bytes[at + 1] >> 4)
            let v = Int(bytes[at + 1] & 15)
            guard (1...4).contains(h), (1...4).contains(v), bytes[at + 2] < 4 else {
                throw fail("component \(i + 1) of the frame header has invalid sampling factors or table")
            }
            frame.append(
                JPEGFrameComponent(
                    id: bytes[at], h: h, v: v, quantTable: Int(bytes[at + 2]), blocksWide: 0, blocksHigh: 0))
        }
        guard !frame.isEmpty else { throw fail("the frame header has no component") }
        let hMax = frame.map(\.h).max() ?? 1
        let vMax = frame.map(\.v).max() ?? 1
        for i in frame.indices {
            frame[i].blocksWide = (width * frame[i].h + 8 * hMax - 1) / (8 * hMax)
            frame[i].blocksHigh = (height * frame[i].v + 8 * vMax - 1) / (8 * vMax)
        }
        var plan = JPEGCodedPlan()
        var definitions: [TableDefinition] = []
        var dc = [Int?](repeating: nil, count: 4)
        var ac = [Int?](repeating: nil, count: 4)
        var quant = [Int?](repeating: nil, count: 4)
        var built: [Int: UnsafeMutablePointer<cgshim_huffman>] = [:]
        defer {
            for table in built.values { table.deallocate() }
            for component in frame { component.nonZero?.deallocate() }
        }
        var latched = [Bool](repeating: false, count: frame.count)
        var restartInterval = 0
        var standard: [Int: UnsafeMutablePointer<cgshim_huffman>] = [:]
        defer { for table in standard.values { table.deallocate() } }
        func huffman(_ definition: Int?, isDC: Bool, slot: Int) throws(MediaError) -> UnsafePointer<cgshim_huffman> {
            guard let definition else {
                // libjpeg-turbo decodes a scan naming undefined slot 0 or 1 with the standard tables (Motion-JPEG).
                let key = slot * 2 + (isDC ? 1 : 0)
                if let table = standard[key] { return UnsafePointer(table) }
                let table = UnsafeMutablePointer<cgshim_huffman>.allocate(capacity: 1)
                standard[key] = table
                guard cgshim_huffman_build_standard(table, isDC ? 1 : 0, Int32(slot)) == CGSHIM_OK else {
                    throw fail(
                        "a scan uses \(isDC ? "DC" : "AC") Huffman table \(slot), which the file does not define")
                }
                return UnsafePointer(table)
            }
            definitions[definition].used = true
            if let table = built[definition] { return UnsafePointer(table) }
            let range = definitions[definition].bytes
            let table = UnsafeMutablePointer<cgshim_huffman>.allocate(capacity: 1)
            built[definition] = table
            let status = bytes.withUnsafeBufferPointer { buffer in
                cgshim_huffman_build(
                    table, buffer.baseAddress! + range.lowerBound + 1, buffer.baseAddress! + range.lowerBound + 17,
                    range.count - 17, isDC ? 1 : 0)
            }
            guard status == CGSHIM_OK else {
                throw fail("the Huffman table at offset \(range.lowerBound) is not one libjpeg accepts")
            }
            return UnsafePointer(table)
        }
        try bytes.withUnsafeBufferPointer { (base) throws(MediaError) in
            for (index, segment) in structure.segments.enumerated() where segment.kind.isCodedImageData {
                let p = segment.payload
                switch segment.kind {
                case .huffmanTable:
                    var at = p.lowerBound
                    while at < p.upperBound {
                        let end = at + 17 + bytes[(at + 1)..<(at + 17)].reduce(0) { $0 + Int($1) }
                        let slot = Int(bytes[at] & 0x0F)
                        guard bytes[at] >> 4 <= 1, slot < 4 else {
                            throw fail(
                                "DHT at offset \(segment.offset) defines an invalid table 0x\(String(bytes[at], radix: 16))"
                            )
                        }
                        definitions.append(TableDefinition(segment: index, bytes: at..<end))
                        if bytes[at] >> 4 == 0 {
                            dc[slot] = definitions.count - 1
                        } else {
                            ac[slot] = definitions.count - 1
                        }
                        at = end
                    }
                case .quantizationTable:
                    var at = p.lowerBound
                    while at < p.upperBound {
                        let end = at + 1 + (bytes[at] >> 4 == 0 ? 64 : 128)
                        guard bytes[at] & 0x0F < 4 else {
                            throw fail("DQT at offset \(segment.offset) defines an invalid table")
                        }
                        definitions.append(TableDefinition(segment: index, bytes: at..<end))
                        quant[Int(bytes[at] & 0x0F)] = definitions.count - 1
                        at = end
                    }
                case .restartInterval:
                    restartInterval = Bytes.be(bytes, p.lowerBound, 2)
                    plan.pieces[index] = Array(bytes[segment.bytes])
                case .frame:
                    plan.pieces[index] = Array(bytes[segment.bytes])
                case .scan:
                    let count = Int(bytes[p.lowerBound])
                    guard (1...4).contains(count) else {
                        throw fail("the scan at offset \(segment.offset) has \(count) components")
                    }
                    var components: [JPEGScanComponent] = []
                    let parameters = JPEGScanParameters(
                        ss: Int(bytes[p.upperBound - 3]), se: Int(bytes[p.upperBound - 2]),
                        ah: Int(bytes[p.upperBound - 1] >> 4), al: Int(bytes[p.upperBound - 1] & 15),
                        progressive: progressive)
                    var blocksInMCU = 0
                    for i in 0..<count {
                        let at = p.lowerBound + 1 + 2 * i
                        guard let c = frame.firstIndex(where: { $0.id == bytes[at] }),
                            !components.contains(where: { $0.frameIndex == c })
                        else {
                            throw fail("the scan at offset \(segment.offset) names a component the frame does not have")
                        }
                        blocksInMCU += frame[c].h * frame[c].v
                        if !latched[c] {
                            guard let q = quant[frame[c].quantTable] else {
                                throw fail("component \(c + 1) uses a quantization table the file does not define")
                            }
                            definitions[q].used = true
                            latched[c] = true
                        }
                        components.append(JPEGScanComponent(frameIndex: c))
                        let td = Int(bytes[at + 1] >> 4)
                        let ta = Int(bytes[at + 1] & 15)
                        guard td < 4, ta < 4 else {
                            throw fail("the scan at offset \(segment.offset) names an invalid table")
                        }
                        if !progressive || (parameters.ss == 0 && parameters.ah == 0) {
                            components[i].dc = try huffman(dc[td], isDC: true, slot: td)
                        }
                        if !progressive || parameters.ss > 0 {
                            components[i].ac = try huffman(ac[ta], isDC: false, slot: ta)
                        }
                    }
                    guard count == 1 || blocksInMCU <= 10 else {
                        throw fail("the scan at offset \(segment.offset) has too many blocks per MCU")
                    }
                    try checkProgression(&frame, components, parameters, offset: segment.offset)
                    let walk = JPEGScanWalk(
                        width: width, height: height, hMax: hMax, vMax: vMax, restartInterval: restartInterval)
                    let data = segment.scanData ?? p.upperBound..<p.upperBound
                    let (kept, _) = try walk.walk(
                        base, data: data, components: components, frame: &frame, parameters, offset: segment.offset)
                    var piece = Array(bytes[segment.offset..<p.upperBound])
                    for range in kept { piece += bytes[range] }
                    let unread = data.count - kept.reduce(0) { $0 + $1.count }
                    if unread > 0 {
                        plan.removed.append(
                            (
                                "unread scan data",
                                "\(unread) bytes of the scan at offset \(segment.offset) no decoder reads"
                            ))
                    }
                    plan.pieces[index] = piece
                case .arithmeticConditioning:
                    plan.removed.append(
                        ("unused table", "DAC at offset \(segment.offset) (the picture is Huffman-coded)"))
                default:
                    throw fail(
                        "\(segment.name) at offset \(segment.offset) belongs to a coding ConsentGate does not walk")
                }
            }
        }
        // Tables: each DHT and DQT keeps the definitions something used, in their order; one using none goes.
        var bySegment: [Int: [TableDefinition]] = [:]
        for definition in definitions { bySegment[definition.segment, default: []].append(definition) }
        for (index, list) in bySegment {
            let segment = structure.segments[index]
            let used = list.filter(\.used)
            if used.count < list.count {
                plan.removed.append(
                    (
                        "unused table",
                        "\(list.count - used.count) of the tables in \(segment.name) at offset \(segment.offset) no scan uses"
                    ))
            }
            guard !used.isEmpty else { continue }
            let body = used.reduce(into: [UInt8]()) { $0 += bytes[$1.bytes] }
            plan.pieces[index] = [0xFF, segment.marker] + Bytes.put(body.count + 2, 2) + body
        }
        return plan
    }

    /// libjpeg's progression rules, made strict where breaking them hides a picture: a sequential scan codes each
    /// component once; a progressive first scan (Ah 0) codes coefficients no scan coded before (a second one would
    /// overwrite the first, which no viewer shows), and a refinement follows the last scan of its coefficients.
    private static func checkProgression(
        _ frame: inout [JPEGFrameComponent], _ components: [JPEGScanComponent], _ p: JPEGScanParameters,
        offset: Int
    ) throws(MediaError) {
        func fail(_ why: String) -> MediaError {
            .malformed(format: "JPEG", reason: "the scan at offset \(offset) \(why)")
        }
        if !p.progressive {
            guard p.ss == 0, p.se == 63, p.ah == 0, p.al == 0 else {
                throw fail("has progressive parameters in a sequential picture")
            }
        } else {
            let valid =
                p.ss == 0 ? p.se == 0 : (p.se >= p.ss && p.se <= 63 && components.count == 1)
            guard valid, p.ah == 0 || p.al == p.ah - 1, p.al <= 13 else { throw fail("has an invalid progression") }
        }
        for component in components {
            let c = component.frameIndex
            for k in p.ss...p.se {
                let before = frame[c].coefficientBits[k]
                if p.ah == 0 {
                    guard before < 0 else {
                        throw fail(
                            "codes component \(c + 1) again over an earlier scan, which no viewer shows "
                                + "(a hidden picture): save the picture again")
                    }
                } else {
                    guard before == p.ah else { throw fail("refines coefficients out of order") }
                }
                frame[c].coefficientBits[k] = p.al
            }
        }
    }
}
