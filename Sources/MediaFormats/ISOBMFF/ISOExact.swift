import ByteKit

/// Exact sizes of the ISO-BMFF boxes the sanitizer keeps. A kept box is copied byte for byte, so a box larger than
/// its fields need (an stts with text after its entries, a tkhd with a name appended) would publish whatever follows
/// its fields. Each kept leaf box is sized from its own fields; what lies beyond becomes a `free` box of zeros (the
/// box is shrunk, offsets stay), or the file is refused when the rest is too small to hold a box header (under 8
/// bytes). A sample entry's child boxes follow `sampleEntryChildRules`: kept at their exact size, kept whole, or freed
/// when known not to change decoding; any other child is refused. HEIF item properties are rebuilt at their defined sizes, a `colr` ICC
/// profile as published (`ICCProfile`).
///
/// `presented_sha256` covers each box as published (`normalized`), so the input and the output agree.
enum ISOExact {
    static func fail(_ reason: String) -> MediaError { .malformed(format: "ISO-BMFF", reason: reason) }

    /// A box as published: its defined payload length, and changes inside that payload (offset from the payload
    /// start, bytes).
    struct Shape {
        var defined: Int
        var patches: [(at: Int, bytes: [UInt8])] = []

        func apply(_ payload: [UInt8]) -> [UInt8] {
            var out = Array(payload[0..<min(defined, payload.count)])
            for patch in patches { out.replaceSubrange(patch.at..<(patch.at + patch.bytes.count), with: patch.bytes) }
            return out
        }
    }

    /// Boxes whose size the sanitizer checks (every kept leaf box; containers are walked).
    static let sized: Set<String> = [
        "mvhd", "tkhd", "mdhd", "vmhd", "smhd", "hmhd", "nmhd", "sthd", "gmin", "elst", "stts", "ctts", "stss",
        "stps", "stsh", "stsc", "stco", "co64", "stsz", "stz2", "cslg", "sdtp", "sbgp", "sgpd", "stsd", "dref",
        "elng", "iods", "clef", "prof", "enof", "padb", "stdp", "subs", "saiz", "saio",
    ]

    static func be(_ d: [UInt8], _ at: Int, _ w: Int) -> Int { Bytes.be(d, at, w) }

    static func need(_ ok: Bool, _ what: @autoclosure () -> String) throws(MediaError) {
        guard ok else { throw fail(what()) }
    }

    /// The published shape of a kept box's payload. `sampleCount` is the track's sample count (stsz/stz2), for the
    /// tables sized by it; `handler` the track's handler, for sample descriptions.
    static func shape(_ type: String, _ d: [UInt8], handler: String, sampleCount: Int) throws(MediaError) -> Shape {
        let n = d.count
        let version = n > 0 ? Int(d[0]) : 0
        func table(_ head: Int, _ entry: Int) throws(MediaError) -> Int {
            try need(n >= head, "\(type) is too short")
            let count = be(d, head - 4, 4)
            try need(count <= (n - head) / entry, "\(type) lists more entries than it holds")
            return head + count * entry
        }
        let defined: Int
        switch type {
        case "mvhd": defined = version == 1 ? 112 : 100
        case "tkhd": defined = version == 1 ? 96 : 84
        case "mdhd": defined = version == 1 ? 36 : 24
        case "vmhd": defined = 12
        case "smhd": defined = 8
        case "hmhd": defined = 20
        case "nmhd", "sthd": defined = 4
        case "gmin": defined = 16
        case "clef", "prof", "enof": defined = 12
        case "elst": defined = try table(8, version == 1 ? 20 : 12)
        case "stts", "ctts", "stsh": defined = try table(8, 8)
        case "stss", "stps", "stco": defined = try table(8, 4)
        case "co64": defined = try table(8, 8)
        case "stsc": defined = try table(8, 12)
        case "stsz":
            try need(n >= 12, "stsz is too short")
            defined = be(d, 4, 4) == 0 ? try table(12, 4) : 12
        case "stz2":
            try need(n >= 12, "stz2 is too short")
            let field = Int(d[7])
            let count = be(d, 8, 4)
            try need([4, 8, 16].contains(field) && count <= (n - 12) * 8 / field, "stz2 is malformed")
            defined = 12 + (count * field + 7) / 8
        case "cslg": defined = version == 1 ? 44 : 24
        case "sdtp": defined = 4 + sampleCount
        case "padb":
            try need(n >= 8, "padb is too short")
            defined = 8 + (be(d, 4, 4) + 1) / 2
        case "stdp": defined = 4 + 2 * sampleCount
        case "sbgp": defined = try table(version == 1 ? 16 : 12, 8)
        case "sgpd": defined = try sampleGroupDescriptionLength(d)
        case "dref": return try dataReferences(d)
        case "stsd": return try sampleDescriptions(d, handler: handler)
        case "elng":
            let text = d.dropFirst(4).prefix { $0 != 0 }
            try need(n >= 5 && 4 + text.count < n && isLanguageTag(Array(text)), "elng is not a language tag")
            defined = 4 + text.count + 1
        case "iods":
            try need(n >= 6, "iods is too short")
            var at = 5
            var length = 0
            for _ in 0..<4 {
                try need(at < n, "iods is cut short")
                length = length << 7 | Int(d[at] & 0x7F)
                at += 1
                if d[at - 1] & 0x80 == 0 { break }
            }
            defined = at + length
        case "subs", "saiz", "saio":
            // Sub-sample and auxiliary (encryption) information: not needed to play a clear file, and not sized here.
            throw MediaError.unsupported("\(type) box (sub-sample or auxiliary information) is not supported")
        default: defined = n
        }
        try need(defined <= n, "\(type) is shorter than its fields (\(n) bytes, \(defined) needed)")
        return Shape(defined: defined)
    }

    /// sgpd: version 1 entries have a default or their own length; version 0 and 2 entries are sized by grouping type.
    static func sampleGroupDescriptionLength(_ d: [UInt8]) throws(MediaError) -> Int {
        try need(d.count >= 12, "sgpd is too short")
        let version = d[0]
        let grouping = String(decoding: d[4..<8], as: UTF8.self)
        var at = version >= 1 ? 12 : 8
        var defaultLength = version == 1 ? be(d, 8, 4) : 0
        if version >= 2 { at = 12 }
        try need(at + 4 <= d.count, "sgpd is too short")
        let count = be(d, at, 4)
        at += 4
        if version != 1 {
            let known: [String: Int] = ["roll": 2, "prol": 2, "rap ": 1, "sync": 1, "sap ": 1, "tele": 1]
            guard let length = known[grouping] else {
                throw MediaError.unsupported("sample group description \(grouping) of version \(version) cannot be sized")
            }
            defaultLength = length
        }
        for _ in 0..<count {
            var length = defaultLength
            if length == 0 {
                try need(at + 4 <= d.count, "sgpd is cut short")
                length = be(d, at, 4)
                at += 4
            }
            try need(length <= d.count - at, "sgpd is cut short")
            at += length
        }
        return at
    }

    /// dref: its entries (self-contained, so their data is zeroed by the sanitizer) and nothing after them.
    static func dataReferences(_ d: [UInt8]) throws(MediaError) -> Shape {
        try need(d.count >= 8, "dref is too short")
        var at = 8
        var shape = Shape(defined: 0)
        for _ in 0..<be(d, 4, 4) {
            try need(at + 12 <= d.count, "dref is cut short")
            let size = be(d, at, 4)
            try need(size >= 12 && size <= d.count - at, "dref entry is malformed")
            if size > 12 { shape.patches.append((at + 12, [UInt8](repeating: 0, count: size - 12))) }
            at += size
        }
        shape.defined = at
        return shape
    }

    /// stsd: its entries and nothing after them; in each entry, after its fixed fields, only known children of their
    /// defined sizes (a child longer than its fields is shrunk, the rest a `free` box; an unknown child is refused).
    static func sampleDescriptions(_ d: [UInt8], handler: String) throws(MediaError) -> Shape {
        try need(d.count >= 8, "stsd is too short")
        var shape = Shape(defined: 0)
        var at = 8
        for _ in 0..<be(d, 4, 4) {
            try need(at + 16 <= d.count, "stsd is cut short")
            let size = be(d, at, 4)
            try need(size >= 16 && size <= d.count - at, "a sample entry runs past the stsd")
            var fixed = 16
            if handler == "vide" {
                fixed = 86
            } else if handler == "soun" {
                let version = be(d, at + 16, 2)
                fixed = [0: 36, 1: 52, 2: 72][version] ?? -1
                try need(fixed > 0, "sound sample entry version \(version) is unknown")
                // ISO's AudioSampleEntryV1 (an MP4's `ipcm` at a high rate, with `srat`) has version 1 and the
                // 36 bytes of version 0; QuickTime's has 16 more. A known box right after 36 bytes is ISO's.
                if version == 1, size >= 44, at + 44 <= d.count {
                    let length = be(d, at + 36, 4)
                    let type = String(decoding: d[(at + 40)..<(at + 44)], as: UTF8.self)
                    if length >= 8, length <= size - 36, sampleEntryChildRules[type] != nil { fixed = 36 }
                }
            }
            try need(size >= fixed, "a sample entry is shorter than its fields")
            // The channel count of an audio entry (QuickTime version 2 keeps its own count further on).
            let channels = handler == "soun" ? be(d, at + (fixed == 72 ? 48 : 24), fixed == 72 ? 4 : 2) : nil
            try children(d, (at + fixed)..<(at + size), into: &shape, inWave: false, channels: channels)
            at += size
        }
        shape.defined = at
        return shape
    }

    /// Walks the child boxes in `range` of `d`, adding to `shape` the changes that publish them.
    static func children(
        _ d: [UInt8], _ range: Range<Int>, into shape: inout Shape, inWave: Bool, channels: Int? = nil
    ) throws(MediaError) {
        var at = range.lowerBound
        while at < range.upperBound {
            let left = range.upperBound - at
            if left < 8 {
                // A few zero bytes (QuickTime's terminator) are harmless; anything else is not.
                try need(d[at..<range.upperBound].allSatisfy { $0 == 0 }, "bytes after the boxes of a sample entry")
                return
            }
            let size = be(d, at, 4)
            let type = String(decoding: d[(at + 4)..<(at + 8)], as: UTF8.self)
            if size == 8 && d[(at + 4)..<(at + 8)].allSatisfy({ $0 == 0 }) && inWave {  // QuickTime's terminator atom
                at += 8
                continue
            }
            try need(size >= 8 && size <= left, "a box inside a sample entry runs past it")
            let payload = (at + 8)..<(at + size)
            func blank() {
                shape.patches.append((at + 4, Array("free".utf8)))
                shape.patches.append((payload.lowerBound, [UInt8](repeating: 0, count: payload.count)))
            }
            switch sampleEntryChildRules[type] {
            case nil:
                let printable = type.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
                let name = printable ? "'\(type)'" : "non-text-named"
                throw MediaError.unsupported(
                    "a sample description holds a \(name) box this sanitizer does not know: a decoder may read it,"
                        + " so it is neither freed nor published unchecked")
            case .freed:
                blank()
            case .container:
                try children(d, payload, into: &shape, inWave: true, channels: channels)
            case .whole:
                break
            case .sized:
                let data = Array(d[payload])
                let defined = try childLength(type, data, channels: channels)
                // (A length read from the record's own fields, vpcC's or dOps', may claim more than the box holds.)
                try need(defined <= data.count, "\(type) in a sample entry is shorter than its fields")
                if type == "colr", data.count >= 4, ["prof", "rICC"].contains(String(decoding: data[0..<4], as: UTF8.self)) {
                    let profile = Array(data[4..<defined])
                    guard (try? ICCProfile.published(profile)) == profile else {
                        throw MediaError.unsupported(
                            "the ICC profile of a video sample description holds text or tags other than colour tags")
                    }
                }
                // Its defined fields, without what a configuration record may not publish (`publishedConfiguration`).
                let published = try publishedConfiguration(type, Array(data[0..<defined]))
                if published.count < data.count {
                    let rest = data.count - published.count
                    try need(rest >= 8, "\(type) in a sample entry has \(rest) bytes after its fields")
                    shape.patches.append((at, Bytes.put(8 + published.count, 4)))
                    if published.count < defined { shape.patches.append((payload.lowerBound, published)) }
                    shape.patches.append(
                        (payload.lowerBound + published.count, Bytes.put(rest, 4) + Array("free".utf8) + [UInt8](repeating: 0, count: rest - 8)))
                }
            }
            at += size
        }
    }
}
