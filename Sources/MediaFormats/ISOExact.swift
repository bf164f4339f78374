/// Exact sizes of the ISO-BMFF boxes the sanitizer keeps. A kept box is copied byte for byte, so a box larger than
/// its fields need (an stts with text after its entries, a tkhd with a name appended) would publish whatever follows
/// its fields. Each kept leaf box is sized from its own fields; what lies beyond becomes a `free` box of zeros (the
/// box is shrunk, offsets stay), or the file is refused when the rest is too small to hold a box header (under 8
/// bytes). Sample entries may hold only known child boxes (`sampleEntryChildren`), each of its exact size; any other
/// child becomes a `free` box of zeros. HEIF item properties are rebuilt at their defined sizes, a `colr` ICC
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
            try need(
                n >= 5 && text.count <= 35 && 4 + text.count < n
                    && text.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D },
                "elng is not a language tag")
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

    /// Child boxes a sample entry may keep, each sized by `childLength`. Any other child becomes a `free` box of zeros.
    static let sampleEntryChildren: Set<String> = [
        "avcC", "hvcC", "av1C", "vpcC", "dvcC", "dvvC", "dvwC", "btrt", "pasp", "clap", "colr", "fiel", "gama", "clli",
        "mdcv", "st3d", "esds", "dOps", "dac3", "dec3", "chan", "wave", "SA3D", "alac", "dfLa", "frma", "enda",
        "mp4a", "damr", "SmDm", "CoLL", "free", "skip",
    ]

    /// stsd: its entries and nothing after them; in each entry, after its fixed fields, only known children of their
    /// defined sizes (a child longer than its fields is shrunk, the rest a `free` box; an unknown child becomes free).
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
            }
            try need(size >= fixed, "a sample entry is shorter than its fields")
            try children(d, (at + fixed)..<(at + size), into: &shape, inWave: false)
            at += size
        }
        shape.defined = at
        return shape
    }

    /// Walks the child boxes in `range` of `d`, adding to `shape` the changes that publish them.
    static func children(_ d: [UInt8], _ range: Range<Int>, into shape: inout Shape, inWave: Bool) throws(MediaError) {
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
            if type == "free" || type == "skip" || !sampleEntryChildren.contains(type) {
                blank()
            } else if type == "wave" {
                try children(d, payload, into: &shape, inWave: true)
            } else {
                let data = Array(d[payload])
                let defined = try childLength(type, data)
                if type == "colr", data.count >= 4, ["prof", "rICC"].contains(String(decoding: data[0..<4], as: UTF8.self)) {
                    let profile = Array(data[4..<defined])
                    guard (try? ICCProfile.published(profile)) == profile else {
                        throw MediaError.unsupported(
                            "the ICC profile of a video sample description holds text or tags other than colour tags")
                    }
                }
                if defined < data.count {
                    let rest = data.count - defined
                    try need(rest >= 8, "\(type) in a sample entry has \(rest) bytes after its fields")
                    shape.patches.append((at, Bytes.put(8 + defined, 4)))
                    shape.patches.append(
                        (payload.lowerBound + defined, Bytes.put(rest, 4) + Array("free".utf8) + [UInt8](repeating: 0, count: rest - 8)))
                }
            }
            at += size
        }
    }

    /// The defined length of a sample entry's child box payload (or a HEIF item property's).
    static func childLength(_ type: String, _ d: [UInt8]) throws(MediaError) -> Int {
        let n = d.count
        func short() -> MediaError { fail("\(type) is shorter than its fields") }
        switch type {
        case "btrt": return 12
        case "pasp": return 8
        case "clap": return 32
        case "fiel": return 2
        case "gama": return 4
        case "clli", "CoLL": return 4
        case "mdcv": return 24
        case "SmDm": return 24
        case "st3d": return 5
        case "dac3": return 3
        case "frma": return 4
        case "enda": return 2
        case "mp4a": return min(n, 4)
        case "damr": return 9
        case "dvcC", "dvvC", "dvwC": return 24
        case "ispe": return 12
        case "irot", "imir", "a1op": return 1
        case "rloc": return 12
        case "lsel": return 2
        case "amve": return 8
        case "a1lx":
            guard n >= 1 else { throw short() }
            return 1 + (d[0] & 1 == 1 ? 12 : 6)
        case "pixi":
            guard n >= 5 else { throw short() }
            return 5 + Int(d[4])
        case "colr":
            guard n >= 4 else { throw short() }
            switch String(decoding: d[0..<4], as: UTF8.self) {
            case "nclx": return 11
            case "nclc": return 10
            case "prof", "rICC":
                guard n >= 8 else { throw short() }
                return 4 + be(d, 4, 4)
            default: throw MediaError.unsupported("colr box of an unknown colour type")
            }
        case "chan":
            guard n >= 16 else { throw short() }
            return 16 + 20 * be(d, 12, 4)
        case "SA3D":
            guard n >= 12 else { throw short() }
            return 12 + 4 * be(d, 8, 4)
        case "alac": return 28
        case "dOps":
            guard n >= 11 else { throw short() }
            return 11 + (d[10] != 0 ? 2 + Int(d[1]) : 0)
        case "vpcC":
            guard n >= 14 else { throw short() }
            return 14 + be(d, 12, 2)
        case "dec3":
            guard n >= 2 else { throw short() }
            var at = 2
            for _ in 0..<(Int(d[1] & 7) + 1) {
                guard at + 3 <= n else { throw short() }
                let dependents = Int(d[at + 2] >> 1) & 0x0F
                at += dependents > 0 ? 4 : 3
            }
            // Dolby Atmos' optional extension: a flag byte and a complexity index.
            return n == at + 2 ? at + 2 : at
        case "dfLa":
            var at = 4
            while true {
                guard at + 4 <= n else { throw short() }
                let last = d[at] & 0x80 != 0
                let kind = d[at] & 0x7F
                let length = be(d, at + 1, 3)
                guard kind == 0, length == 34 else {
                    throw MediaError.unsupported("a FLAC configuration holds metadata blocks other than STREAMINFO")
                }
                at += 4 + length
                if last { return at }
            }
        case "esds":
            // A full box and one ES descriptor (tag 3), its length in up to four 7-bit bytes.
            guard n >= 6, d[4] == 3 else { throw fail("esds holds no ES descriptor") }
            var at = 5
            var length = 0
            for _ in 0..<4 {
                guard at < n else { throw short() }
                length = length << 7 | Int(d[at] & 0x7F)
                at += 1
                if d[at - 1] & 0x80 == 0 { break }
            }
            return at + length
        case "avcC":
            guard n >= 6 else { throw short() }
            var at = 5
            func sets(_ count: Int) throws(MediaError) {
                for _ in 0..<count {
                    guard at + 2 <= n else { throw short() }
                    at += 2 + be(d, at, 2)
                    guard at <= n else { throw short() }
                }
            }
            let sps = Int(d[5] & 0x1F)
            at = 6
            try sets(sps)
            guard at < n else { throw short() }
            let pps = Int(d[at])
            at += 1
            try sets(pps)
            // High profiles may add chroma format, bit depths and SPS extensions (with their reserved bits set).
            if [100, 110, 122, 144].contains(Int(d[1])), n - at >= 4, d[at] & 0xFC == 0xFC, d[at + 1] & 0xF8 == 0xF8,
                d[at + 2] & 0xF8 == 0xF8
            {
                let extensions = Int(d[at + 3])
                at += 4
                try sets(extensions)
            }
            return at
        case "hvcC":
            guard n >= 23 else { throw short() }
            var at = 23
            for _ in 0..<Int(d[22]) {
                guard at + 3 <= n else { throw short() }
                let units = be(d, at + 1, 2)
                at += 3
                for _ in 0..<units {
                    guard at + 2 <= n else { throw short() }
                    at += 2 + be(d, at, 2)
                    guard at <= n else { throw short() }
                }
            }
            return at
        case "av1C":
            // Four fixed bytes, then configuration OBUs: sequence headers only, each with its size field.
            guard n >= 4 else { throw short() }
            var at = 4
            while at < n {
                let header = d[at]
                let kind = (header >> 3) & 0x0F
                guard kind == 1, header & 0x02 != 0 else {
                    throw MediaError.unsupported("an av1C holds a configuration OBU other than a sized sequence header")
                }
                at += header & 0x04 != 0 ? 2 : 1
                var length = 0
                var shift = 0
                while true {
                    guard at < n, shift < 56 else { throw short() }
                    length |= Int(d[at] & 0x7F) << shift
                    at += 1
                    shift += 7
                    if d[at - 1] & 0x80 == 0 { break }
                }
                guard length <= n - at else { throw short() }
                at += length
            }
            return at
        default:
            // Codec configurations and properties not sized here are kept whole (the codec's own data).
            return n
        }
    }

    /// A HEIF item property as published: its defined fields only, a colr ICC profile rebuilt (`ICCProfile`).
    static func heifProperty(_ type: String, _ d: [UInt8]) throws(MediaError) -> [UInt8] {
        let defined = try childLength(type, d)
        guard defined <= d.count else { throw fail("HEIF property \(type) is shorter than its fields") }
        if type == "colr", ["prof", "rICC"].contains(String(decoding: d[0..<4], as: UTF8.self)) {
            return Array(d[0..<4]) + (try ICCProfile.published(Array(d[4..<defined])))
        }
        return Array(d[0..<defined])
    }
}
