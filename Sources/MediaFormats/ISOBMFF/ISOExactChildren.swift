import ByteKit

/// The defined lengths of sample-entry children and HEIF item properties (see `ISOExact`).
extension ISOExact {
    /// The defined length of a sample entry's child box payload (or a HEIF item property's).
    /// `channels` is the channel count of the audio sample entry holding it (for `chnl`).
    static func childLength(_ type: String, _ d: [UInt8], channels: Int? = nil) throws(MediaError) -> Int {
        if let length = try codecConfigurationLength(type, d, channels: channels) { return length }
        let n = d.count
        func short() -> MediaError { fail("\(type) is shorter than its fields") }
        switch type {
        case "btrt": return 12
        case "pasp": return 8
        case "clap": return 32
        case "fiel": return 2
        case "gama": return 4
        case "clli": return 4
        case "mdcv": return 24
        // The VP9 binding's mastering display and light level boxes are full boxes.
        case "CoLL": return 8
        case "SmDm": return 28
        case "st3d": return 5
        case "dac3": return 3
        case "frma": return 4
        case "enda": return 2
        case "srat": return 8
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
        return try publishedConfiguration(type, Array(d[0..<defined]))
    }
}
