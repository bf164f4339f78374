import ByteKit

/// SEI NAL units in decoder configuration records. An HEVC encoder may put SEI messages into `hvcC`'s arrays next
/// to the parameter sets (x265 writes its build, platform and whole option string there as user data), and a decoder
/// would pass them on as side data. The published `hvcC`/`lhvC` keeps the parameter sets and only the SEI NAL units
/// and the SEI messages of a type in `keptSEIPayloads` (how the picture is timed, recovered and shown; none
/// carries text or user data): an SEI NAL unit holding no such message is dropped, one that mixes both rebuilt.
/// In `avcC` each list must hold only its own NAL type (SPS, PPS, SPS extension): anything else is refused.
extension ISOExact {
    /// SEI payload types kept (ITU-T H.265 annex D): buffering period 0, picture timing 1, recovery point 6, frame
    /// packing 45, display orientation 47, active parameter sets 129, decoding unit info 130, decoded picture hash
    /// 132, mastering display colour volume 137, content light level 144, alternative transfer characteristics
    /// 147, ambient viewing environment 148, content colour volume 149.
    static let keptSEIPayloads: Set<Int> = [0, 1, 6, 45, 47, 129, 130, 132, 137, 144, 147, 148, 149]

    /// A sized child or property payload as published: `hvcC`/`lhvC` without dropped SEI NAL units, an `avcC`
    /// checked, a `dfLa` cut to its STREAMINFO; any other as it is.
    static func publishedConfiguration(_ type: String, _ d: [UInt8]) throws(MediaError) -> [UInt8] {
        switch type {
        case "hvcC": return try publishedHEVCConfiguration(d, head: 22)
        case "lhvC": return try publishedHEVCConfiguration(d, head: 5)
        case "avcC":
            try checkAVCParameterSets(d, defined: d.count)
            return d
        case "dfLa" where d.count > 42:
            // STREAMINFO alone, flagged as the last block (padding, seek table, tags: a Vorbis comment is text).
            return Array(d[0..<4]) + [d[4] | 0x80] + Array(d[5..<42])
        default: return d
        }
    }

    /// An `hvcC` (`head` 22) or `lhvC` (`head` 5) payload, already sized (`codecConfigurationLength`), as
    /// published: its arrays without the SEI NAL units that carry anything but `keptSEIPayloads`, an array left
    /// empty dropped. Equal to the payload when there is nothing to drop.
    static func publishedHEVCConfiguration(_ d: [UInt8], head: Int) throws(MediaError) -> [UInt8] {
        var arrays: [UInt8] = []
        var kept = 0
        var at = head + 1
        for _ in 0..<Int(d[head]) {
            let first = d[at]  // array completeness, reserved bit, NAL unit type
            let count = be(d, at + 1, 2)
            var units: [UInt8] = []
            var unitsKept = 0
            at += 3
            for _ in 0..<count {
                let length = be(d, at, 2)
                let unit = Array(d[(at + 2)..<(at + 2 + length)])
                at += 2 + length
                let type = unit.count >= 2 ? (unit[0] >> 1) & 0x3F : 0xFF
                var published = unit
                if [39, 40].contains(type) || [39, 40].contains(first & 0x3F) {
                    guard let kept = try publishedSEI(unit) else { continue }
                    published = kept
                }
                units += Bytes.put(published.count, 2) + published
                unitsKept += 1
            }
            guard unitsKept > 0 || count == 0 else { continue }
            arrays += [first] + Bytes.put(unitsKept, 2) + units
            kept += 1
        }
        return Array(d[0..<head]) + [UInt8(kept)] + arrays
    }

    /// An HEVC SEI NAL unit as published: itself when every message's type is in `keptSEIPayloads`, nil (dropped)
    /// when none is, else rebuilt from the kept messages (emulation prevention bytes put back). One that cannot be
    /// read as SEI messages is refused.
    static func publishedSEI(_ unit: [UInt8]) throws(MediaError) -> [UInt8]? {
        // The RBSP: the NAL payload without its emulation prevention bytes (0x03 after two zero bytes).
        var rbsp: [UInt8] = []
        var zeros = 0
        for byte in unit.dropFirst(2) {
            if zeros >= 2 && byte == 3 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            rbsp.append(byte)
        }
        while rbsp.last == 0 { rbsp.removeLast() }  // zero bytes after the trailing bits
        func unreadable() -> MediaError { fail("an SEI NAL unit in an HEVC configuration cannot be read") }
        var messages: [(type: Int, bytes: Range<Int>)] = []
        var at = 0
        // Messages until the RBSP trailing bits (a final byte 0x80).
        while at < rbsp.count && !(at == rbsp.count - 1 && rbsp[at] == 0x80) {
            let start = at
            var values: [Int] = []
            for _ in 0..<2 {
                var value = 0
                while true {
                    guard at < rbsp.count, value < 1 << 20 else { throw unreadable() }
                    value += Int(rbsp[at])
                    at += 1
                    if rbsp[at - 1] != 0xFF { break }
                }
                values.append(value)
            }
            guard values[1] <= rbsp.count - at else { throw unreadable() }
            at += values[1]
            messages.append((values[0], start..<at))
        }
        guard !messages.isEmpty, at == rbsp.count - 1 else { throw unreadable() }
        let kept = messages.filter { keptSEIPayloads.contains($0.type) }
        if kept.count == messages.count { return unit }
        if kept.isEmpty { return nil }
        var payload: [UInt8] = []
        zeros = 0
        let rebuilt: [UInt8] = kept.flatMap { Array(rbsp[$0.bytes]) } + [0x80]
        for byte in rebuilt {
            if zeros >= 2 && byte <= 3 {
                payload.append(3)
                zeros = 0
            }
            zeros = byte == 0 ? zeros + 1 : 0
            payload.append(byte)
        }
        return Array(unit[0..<2]) + payload
    }

    /// avcC's lists hold only their own NAL unit types: sequence parameter sets (7), picture parameter sets (8),
    /// sequence parameter set extensions (13).
    static func checkAVCParameterSets(_ d: [UInt8], defined: Int) throws(MediaError) {
        var at = 6
        var lists = [(count: Int(d[5] & 0x1F), type: UInt8(7))]
        var index = 0
        while index < lists.count {
            for _ in 0..<lists[index].count {
                let length = be(d, at, 2)
                guard length >= 1, d[at + 2] & 0x1F == lists[index].type else {
                    throw MediaError.unsupported(
                        "an avcC list of NAL type \(lists[index].type) holds another NAL unit (an SEI or user data)")
                }
                at += 2 + length
            }
            if index == 0 {
                lists.append((Int(d[at]), 8))
                at += 1
            } else if index == 1, at + 4 <= defined {
                lists.append((Int(d[at + 3]), 13))
                at += 4
            }
            index += 1
        }
    }
}
