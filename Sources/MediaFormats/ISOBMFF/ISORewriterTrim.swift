import ByteKit

/// A trimmed track in the rewritten movie (`ISOTrim`): its chunks cut to the needed samples and every per-sample
/// table rebuilt for them.
struct TrimmedTrack {
    let table: ISOSampleTable
    let trim: ISOTrim
    /// The output chunks: sample ranges (input numbering) and their sample entry.
    var chunks: [Range<Int>] = []
    /// New payloads by input box index (stts, ctts, stss, sdtp, sbgp, stsc, elst), and boxes left out (cslg).
    var payloads: [Int: [UInt8]] = [:]
    var omitted: Set<Int> = []
    /// Tables the input's sample table lacks but the samples need (a fragmented movie's `ctts` and `stss`).
    var added: [(type: String, payload: [UInt8])] = []
    /// A fragmented track's edit list as written (`ISOMedia.fragmentEdits`, in an `edts` of its own).
    var edits: [UInt8]? = nil

    /// Tables a trimmed track cannot carry over (their entries would have to be cut and renumbered too).
    static let untrimmable: Set<String> = ["stps", "stsh", "padb", "subs", "stdp", "saiz", "saio"]

    init(media: ISOMedia, track: ISOMedia.Track, table: ISOSampleTable, trim: ISOTrim) throws(MediaError) {
        self.table = table
        self.trim = trim
        guard let mdia = media.child(track.box, "mdia"), let stbl = media.path(mdia, ["minf", "stbl"]) else {
            throw ISOSanitizer.fail("track \(track.id) has no sample table")
        }
        let keep = trim.first..<(trim.last + 1)
        // Chunks: the input's, cut to the needed samples.
        var start = keep.lowerBound
        while start < keep.upperBound {
            var end = start + 1
            while end < keep.upperBound, table.chunk[end] == table.chunk[start] { end += 1 }
            chunks.append(start..<end)
            start = end
        }
        func runs(_ values: ArraySlice<Int>) -> [UInt8] {
            var entries: [(Int, Int)] = []
            for value in values {
                if let last = entries.last, last.1 == value {
                    entries[entries.count - 1].0 += 1
                } else {
                    entries.append((1, value))
                }
            }
            var out = Bytes.put(entries.count, 4)
            for (count, value) in entries { out += Bytes.put(count, 4) + Bytes.put(value & 0xFFFF_FFFF, 4) }
            return out
        }
        for child in media.children[stbl] {
            let type = media.boxes[child].type
            if TrimmedTrack.untrimmable.contains(type) {
                throw MediaError.unsupported(
                    "track \(track.id) must be trimmed to what its edit list shows, but it has a \(type) table, which cannot be cut")
            }
            let data = try media.payload(child)
            switch type {
            case "stts": payloads[child] = [0, 0, 0, 0] + runs(table.durations[keep])
            case "ctts":
                if let offsets = table.compositionOffsets {
                    payloads[child] = Array(data.prefix(4)) + runs(offsets[keep])
                }
            case "stss":
                let sync = keep.filter { table.isSync($0) }.map { $0 - keep.lowerBound + 1 }
                payloads[child] = [0, 0, 0, 0] + Bytes.put(sync.count, 4) + sync.flatMap { Bytes.put($0, 4) }
            case "sdtp":
                if let dependencies = table.dependencies { payloads[child] = Array(data.prefix(4)) + dependencies[keep] }
            case "sbgp":
                let position = media.children[stbl].filter { media.boxes[$0].type == "sbgp" }.firstIndex(of: child) ?? 0
                guard position < table.groups.count else {
                    omitted.insert(child)
                    continue
                }
                let group = table.groups[position]
                payloads[child] = group.header + runs(group.index[keep])
            case "stsc":
                var entries: [UInt8] = []
                var count = 0
                var previous: (Int, Int)? = nil
                for (index, chunk) in chunks.enumerated() {
                    let current = (chunk.count, table.descriptionIndex[chunk.lowerBound])
                    if let previous, previous == current { continue }
                    entries += Bytes.put(index + 1, 4) + Bytes.put(current.0, 4) + Bytes.put(current.1, 4)
                    count += 1
                    previous = current
                }
                payloads[child] = [0, 0, 0, 0] + Bytes.put(count, 4) + entries
            case "cslg": omitted.insert(child)
            default: break
            }
        }
        let present = Set(media.children[stbl].map { media.boxes[$0].type })
        if !present.contains("ctts"), let offsets = table.compositionOffsets {
            added.append(("ctts", [offsets[keep].contains { $0 < 0 } ? 1 : 0, 0, 0, 0] + runs(offsets[keep])))
        }
        if !present.contains("stss"), table.sync != nil {
            let sync = keep.filter { table.isSync($0) }.map { $0 - keep.lowerBound + 1 }
            added.append(("stss", [0, 0, 0, 0] + Bytes.put(sync.count, 4) + sync.flatMap { Bytes.put($0, 4) }))
        }
        if let edits = track.fragmentEdits {
            self.edits = try TrimmedTrack.shifted(edits, by: trim.shift, open: try media.openEditLength(table, trim))
        } else if let elst = try media.editList(track.box) {
            payloads[elst] = try TrimmedTrack.shifted(
                try media.payload(elst), by: trim.shift, open: try media.openEditLength(table, trim))
        }
    }

    /// An edit list whose media times are `shift` earlier (empty edits, -1, stay). An edit of duration 0 (a
    /// fragmented movie's "to the end") gets its length, `open(its new media time)` in the movie timescale: a regular
    /// movie's edit of 0 shows nothing.
    static func shifted(_ data: [UInt8], by shift: Int, open: (Int) -> Int) throws(MediaError) -> [UInt8] {
        guard data.count >= 8 else { throw ISOSanitizer.fail("elst is too short") }
        let width = data[0] == 1 ? 8 : 4
        let count = Bytes.be(data, 4, 4)
        let entry = 2 * width + 4
        guard count <= (data.count - 8) / entry else { throw ISOSanitizer.fail("elst lists more edits than it holds") }
        var out = Array(data[0..<(8 + count * entry)])
        for index in 0..<count {
            let at = 8 + index * entry + width
            var time = Bytes.be(data, at, width)
            if width == 4, time >= 1 << 31 { time -= 1 << 32 }
            if width == 8, time >= 1 << 62 || time < 0 { continue }
            guard time >= 0 else { continue }
            let moved = time - shift
            guard moved >= 0 else { throw ISOSanitizer.fail("an edit starts before the samples it needs") }
            out.replaceSubrange(at..<(at + width), with: Bytes.put(moved, width))
            if Bytes.be(data, at - width, width) == 0 {
                out.replaceSubrange((at - width)..<at, with: Bytes.put(open(moved), width))
            }
        }
        return out
    }

    /// The media duration of the kept samples (mdhd).
    var duration: Int { table.durations[trim.first...trim.last].reduce(0, +) }
}
