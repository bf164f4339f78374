import ByteKit

/// The rewritten movie's `moov`: the input's, with exactly what the in-place plan keeps, each kept box as the plan
/// leaves it, and what the plan blanks or frees left out (`ISORewriter.swift`).
struct MovieBoxWriter {
    let media: ISOMedia
    /// Each kept track's new chunk offsets (by trak box index), in its chunk order.
    let offsets: [Int: [Int]]
    /// Each kept video track's new sample sizes (by trak box index), where the sample filter changed any.
    let sizes: [Int: [Int]]
    /// Tracks cut to the samples their edit lists need (by trak box index): their rebuilt tables.
    var trims: [Int: TrimmedTrack] = [:]

    /// The box at `index` as written, nil when it is left out.
    func emit(_ index: Int, track: ISOMedia.Track?) throws(MediaError) -> [UInt8]? {
        let boxes = media.boxes
        let type = boxes[index].type
        let parentType = media.parent[index].map { boxes[$0].type } ?? ""
        if ISOSanitizer.blank.contains(type) { return nil }
        guard ISOSanitizer.allowed[parentType]?.contains(type) ?? false else { return nil }
        var inner = track
        if type == "trak" {
            guard let kept = media.tracks.first(where: { $0.box == index }), kept.keep else { return nil }
            inner = kept
        }
        if type == "tref" {
            // Kept whole when every reference is to a kept track (as the plan does), else left out.
            let data = try media.payload(index, limit: 1 << 16)
            let keptIDs = Set(media.tracks.filter(\.keep).map(\.id))
            var at = 0
            while at + 8 <= data.count {
                let size = Bytes.be(data, at, 4)
                guard size >= 8, at + size <= data.count else { return nil }
                for id in stride(from: at + 8, to: at + size - 3, by: 4) where !keptIDs.contains(Bytes.be(data, id, 4)) {
                    return nil
                }
                at += size
            }
            return try ISOSanitizer.movieBox(type, data)
        }
        if type == "elng" {
            // A language tag of the registered shape, or left out, as the plan frees it (`ISOExact.isLanguageTag`).
            let data = try media.payload(index, limit: 1 << 12)
            guard data.count >= 5, ISOExact.isLanguageTag(Array(data.dropFirst(4).prefix { $0 != 0 })) else { return nil }
        }
        if ISOStructure.containers.contains(type) {
            var body: [UInt8] = []
            // A fragmented track's own edit list replaces its edts, right after tkhd (`ISOFragmentEdits.swift`).
            let edits = type == "trak" ? inner.flatMap({ trims[$0.box] })?.edits : nil
            for child in media.children[index] {
                if edits != nil, boxes[child].type == "edts" { continue }
                if let bytes = try emit(child, track: inner) { body += bytes }
                if let edits, boxes[child].type == "tkhd" {
                    body += try ISOSanitizer.movieBox("edts", try ISOSanitizer.movieBox("elst", edits))
                }
            }
            if type == "stbl", let trimmed = inner.flatMap({ trims[$0.box] }) {
                for box in trimmed.added { body += try ISOSanitizer.movieBox(box.type, box.payload) }
            }
            return try ISOSanitizer.movieBox(type, body)
        }
        if let trak = inner?.box, type == "stco" || type == "co64", let table = offsets[trak] {
            let wide = (table.max() ?? 0) > Int(UInt32.max)
            var data: [UInt8] = [0, 0, 0, 0] + Bytes.put(table.count, 4)
            data.reserveCapacity(8 + table.count * (wide ? 8 : 4))
            for offset in table { data += Bytes.put(offset, wide ? 8 : 4) }
            return try ISOSanitizer.movieBox(wide ? "co64" : "stco", data)
        }
        if let trak = inner?.box, type == "stsz" || type == "stz2", let table = sizes[trak] {
            var data: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0] + Bytes.put(table.count, 4)
            data.reserveCapacity(12 + table.count * 4)
            for size in table { data += Bytes.put(size, 4) }
            return try ISOSanitizer.movieBox("stsz", data)
        }
        let trimmed = inner.flatMap { trims[$0.box] }
        if let trimmed {
            if trimmed.omitted.contains(index) { return nil }
            if let payload = trimmed.payloads[index] {
                let shape = try ISOExact.shape(type, payload, handler: inner?.handler ?? "", sampleCount: trimmed.trim.last - trimmed.trim.first + 1)
                return try ISOSanitizer.movieBox(type, shape.apply(payload))
            }
        }
        var data = try media.payload(index)
        func zero(_ range: Range<Int>) {
            let range = range.clamped(to: 0..<data.count)
            if !range.isEmpty { data.replaceSubrange(range, with: [UInt8](repeating: 0, count: range.count)) }
        }
        switch type {
        case "mvhd", "tkhd", "mdhd":
            guard data.count >= 20 else { throw ISOSanitizer.fail("\(boxes[index].path) is too short") }
            zero(4..<(4 + (data[0] == 1 ? 16 : 8)))
        case "hdlr":
            if data.count > 24 { zero(24..<data.count) }
        case "dref":
            var at = 8
            while at + 12 <= data.count {
                let size = Bytes.be(data, at, 4)
                guard size >= 12, at + size <= data.count else { break }
                zero((at + 12)..<(at + size))
                at += size
            }
        case "stsd" where inner?.handler == "vide":
            for name in ISOInspector.compressorNames(data) { zero(name) }
        default: break
        }
        if ISOExact.sized.contains(type) {
            let shape = try ISOExact.shape(
                type, data, handler: inner?.handler ?? "", sampleCount: try media.sampleCount(inner))
            data = shape.apply(data)
            // A new moov keeps no offsets: no `free` box left inside a sample entry.
            if type == "stsd" { data = ISOExact.compactSampleDescriptions(data, handler: inner?.handler ?? "") }
        }
        if let trimmed, type == "mdhd" {
            // The media duration of the samples kept.
            let wide = data.first == 1
            let at = wide ? 24 : 16
            guard data.count >= at + (wide ? 8 : 4) else { throw ISOSanitizer.fail("mdhd is too short") }
            data.replaceSubrange(at..<(at + (wide ? 8 : 4)), with: Bytes.put(trimmed.duration, wide ? 8 : 4))
        }
        return try ISOSanitizer.movieBox(type, data)
    }
}
