import ByteKit

/// The defined lengths of sample-entry children and HEIF item properties (see `ISOExact`).
extension ISOExact {
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
