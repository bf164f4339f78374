import ByteKit

extension ISOExact {
    /// A published `stsd` (`sampleDescriptions` applied) without the `free` boxes directly inside its sample entries,
    /// each entry's and the box's counts and sizes made to fit. Publishing leaves a `free` box where it shrank a
    /// configuration record (an `hvcC` without x265's SEI) or freed a child (a `uuid`), so that a patched file keeps
    /// its offsets; the rewriter writes a new `moov` and has no offsets to keep, and `presented_sha256` is defined
    /// over this form, so a clip presents the same with or without what publishing removed (issue 22).
    /// `dropping` adds other child types to leave out (`presented_sha256` leaves out `btrt`, the bit rates an encoder
    /// or muxer computed from the sample sizes, which removing an SEI changes and no player shows).
    /// Returns the input when it cannot be walked (the shape check refuses such a table before this is used).
    static func compactSampleDescriptions(_ d: [UInt8], handler: String, dropping: Set<String> = []) -> [UInt8] {
        guard d.count >= 8 else { return d }
        var out = Array(d[0..<8])
        var at = 8
        for _ in 0..<Bytes.be(d, 4, 4) {
            guard at + 16 <= d.count else { return d }
            let size = Bytes.be(d, at, 4)
            guard size >= 16, size <= d.count - at else { return d }
            let fixed = sampleEntryFixedLength(d, entry: at, size: size, handler: handler)
            guard fixed <= size else { return d }
            var entry = Array(d[at..<(at + fixed)])
            var child = at + fixed
            while child + 8 <= at + size {
                let length = Bytes.be(d, child, 4)
                guard length >= 8, length <= at + size - child else { break }
                let type = String(decoding: d[(child + 4)..<(child + 8)], as: UTF8.self)
                if type != "free" && !dropping.contains(type) {
                    entry += d[child..<(child + length)]
                }
                child += length
            }
            entry += d[child..<(at + size)]  // a terminator's zero bytes, as published
            entry.replaceSubrange(0..<4, with: Bytes.put(entry.count, 4))
            out += entry
            at += size
        }
        return out + d[at...]
    }

    /// The length of a sample entry's fixed fields, as `sampleDescriptions` reads them.
    static func sampleEntryFixedLength(_ d: [UInt8], entry at: Int, size: Int, handler: String) -> Int {
        if handler == "vide" { return 86 }
        guard handler == "soun" else { return 16 }
        let version = Bytes.be(d, at + 16, 2)
        var fixed = [0: 36, 1: 52, 2: 72][version] ?? size + 1
        if version == 1, size >= 44, at + 44 <= d.count {
            let length = Bytes.be(d, at + 36, 4)
            let type = String(decoding: d[(at + 40)..<(at + 44)], as: UTF8.self)
            if length >= 8, length <= size - 36, sampleEntryChildRules[type] != nil { fixed = 36 }
        }
        return fixed
    }
}
