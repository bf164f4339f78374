import ByteKit

/// SEI NAL units in decoder configuration records. An HEVC encoder may put SEI messages into `hvcC`'s arrays next
/// to the parameter sets (x265 writes its build, platform and whole option string there as user data), and a decoder
/// would pass them on as side data. The published `hvcC`/`lhvC` keeps the parameter sets and only the SEI NAL units
/// and the SEI messages of a type in `keptSEIPayloads` (how the picture is timed, recovered and shown; none
/// carries text or user data): an SEI NAL unit holding no such message is dropped, one that mixes both rebuilt.
/// In `avcC` each list must hold only its own NAL type (SPS, PPS, SPS extension): anything else is refused.
extension ISOExact {
    /// SEI payload types kept (ITU-T H.265 annex D), each within a size: `SEIAllowlist.hevc`.
    static var keptSEIPayloads: Set<Int> { Set(SEIAllowlist.hevc.keys) }

    /// A sized child or property payload as published: `hvcC`/`lhvC` without dropped SEI NAL units, an `avcC`
    /// checked, a `dfLa` cut to its STREAMINFO; any other as it is.
    static func publishedConfiguration(_ type: String, _ d: [UInt8]) throws(MediaError) -> [UInt8] {
        switch type {
        case "hvcC": return try publishedHEVCConfiguration(d, head: 22)
        case "lhvC": return try publishedHEVCConfiguration(d, head: 5)
        case "avcC": return try publishedAVCConfiguration(d)
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

    /// An HEVC SEI NAL unit as published (`SEIAllowlist`): itself when every message is allowed, nil (dropped)
    /// when none is, else rebuilt from the allowed messages. One that cannot be read as SEI messages is refused.
    static func publishedSEI(_ unit: [UInt8]) throws(MediaError) -> [UInt8]? {
        do {
            return try SEIAllowlist.publishedOrUnreadable(unit, header: 2, hevc: true)
        } catch {
            throw fail("an SEI NAL unit in an HEVC configuration cannot be read")
        }
    }

    /// avcC's lists hold only their own NAL unit types: sequence parameter sets (7), picture parameter sets (8),
    /// sequence parameter set extensions (13). An SEI (6), filler (12) or reserved/unspecified NAL unit among them
    /// is dropped (none changes decoding; an SEI is published only through `SEIAllowlist` in samples); a slice or
    /// another parameter set in the wrong list is refused. Equal to the payload when there is nothing to drop.
    static func publishedAVCConfiguration(_ d: [UInt8]) throws(MediaError) -> [UInt8] {
        var out = Array(d[0..<5])
        var at = 6
        var changed = false
        func list(_ count: Int, type: UInt8, countByte: UInt8) throws(MediaError) {
            var units: [[UInt8]] = []
            for _ in 0..<count {
                let length = be(d, at, 2)
                let unit = Array(d[(at + 2)..<(at + 2 + length)])
                at += 2 + length
                let kind = unit.first.map { $0 & 0x1F }
                if kind == type {
                    units.append(unit)
                    continue
                }
                guard let kind, [0, 6, 12, 16, 17, 18, 21, 22, 23].contains(kind) || kind >= 24 else {
                    throw MediaError.unsupported(
                        "an avcC list of NAL type \(type) holds a NAL unit of type \(unit.first.map { $0 & 0x1F } ?? 0)")
                }
                changed = true
            }
            out.append(countByte | UInt8(units.count))
            for unit in units { out += Bytes.put(unit.count, 2) + unit }
        }
        try list(Int(d[5] & 0x1F), type: 7, countByte: d[5] & 0xE0)
        let pps = Int(d[at])
        at += 1
        try list(pps, type: 8, countByte: 0)
        if at + 4 <= d.count {
            out += Array(d[at..<(at + 3)])
            let extensions = Int(d[at + 3])
            at += 4
            try list(extensions, type: 13, countByte: 0)
        }
        return changed ? out : d
    }
}
