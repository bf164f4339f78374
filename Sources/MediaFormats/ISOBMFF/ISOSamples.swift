import ByteKit

/// A track's samples one by one (decoding order): where each lies, how long it is, when it is shown, whether it is a
/// key frame, which sample entry describes it, and the per-sample tables the rewriter carries over. Built from the
/// sample table when a track is trimmed or fingerprinted by its presented samples (`ISOTrim.swift`).
struct ISOSampleTable {
    var sizes: [Int] = []
    var offsets: [Int] = []
    var durations: [Int] = []
    /// Composition offsets (ctts), nil when the track has none (shown in decoding order).
    var compositionOffsets: [Int]? = nil
    var cttsVersion: UInt8 = 0
    /// Key frames (stss), nil when every sample is one.
    var sync: [Bool]? = nil
    var descriptionIndex: [Int] = []
    /// The input chunk each sample lies in.
    var chunk: [Int] = []
    /// sdtp's byte per sample, nil without one.
    var dependencies: [UInt8]? = nil
    /// Each sbgp: its header (version, flags, grouping type and parameter) and each sample's group description index.
    var groups: [(header: [UInt8], index: [Int])] = []

    var count: Int { sizes.count }

    /// Decoding time of each sample (sum of the durations before it).
    func decodeTimes() -> [Int] {
        var times: [Int] = []
        times.reserveCapacity(count)
        var time = 0
        for duration in durations {
            times.append(time)
            time += duration
        }
        return times
    }

    func compositionOffset(_ index: Int) -> Int { compositionOffsets?[index] ?? 0 }
    func isSync(_ index: Int) -> Bool { sync?[index] ?? true }

    /// The most samples read one by one (a sound track of single-byte PCM samples is trimmed by chunks, never here).
    static let maxSamples = 8_000_000
}

extension ISOMedia {
    /// Reads every per-sample table of `track` (which `chunkRanges` has already checked for agreement).
    func sampleTable(_ track: Track) throws(MediaError) -> ISOSampleTable {
        if let fragments = track.fragments { return fragments }
        let name = "track \(track.id)"
        guard let mdia = child(track.box, "mdia"), let stbl = path(mdia, ["minf", "stbl"]) else {
            throw fail("\(name) has no sample table")
        }
        var table = ISOSampleTable()
        let count = try sampleCount(track)
        guard count <= ISOSampleTable.maxSamples else {
            throw MediaError.limitExceeded("\(name) has \(count) samples (over \(ISOSampleTable.maxSamples))")
        }
        // Sizes, and the samples of each chunk.
        let layout = try ISOSanitizer.videoLayout(self, track)
        table.sizes = layout.sizes
        guard table.sizes.count == count else { throw fail("\(name): its sample sizes cannot be read") }
        table.offsets.reserveCapacity(count)
        for (c, range) in track.chunks.enumerated() {
            var at = range.lowerBound
            for sample in layout.firstSample[c]..<(layout.firstSample[c] + layout.perChunk[c]) {
                table.offsets.append(at)
                table.descriptionIndex.append(layout.entryOfChunk[c])
                table.chunk.append(c)
                at += table.sizes[sample]
            }
        }
        // Timing.
        guard let stts = child(stbl, "stts") else { throw fail("\(name) has no decoding times (stts)") }
        table.durations = try runs(try payload(stts), count: count, what: "stts in \(name)")
        if let ctts = child(stbl, "ctts") {
            let data = try payload(ctts)
            table.cttsVersion = data.first ?? 0
            table.compositionOffsets = try runs(data, count: count, what: "ctts in \(name)", signed: true)
        }
        if let stss = child(stbl, "stss") {
            let data = try payload(stss)
            guard data.count >= 8, Bytes.be(data, 4, 4) <= (data.count - 8) / 4 else { throw fail("stss in \(name) is cut short") }
            var sync = [Bool](repeating: false, count: count)
            for entry in 0..<Bytes.be(data, 4, 4) {
                let number = Bytes.be(data, 8 + entry * 4, 4)
                guard number >= 1, number <= count else { throw fail("stss in \(name) names sample \(number) of \(count)") }
                sync[number - 1] = true
            }
            table.sync = sync
        }
        if let sdtp = child(stbl, "sdtp") {
            let data = try payload(sdtp)
            guard data.count >= 4 + count else { throw fail("sdtp in \(name) is cut short") }
            table.dependencies = Array(data[4..<(4 + count)])
        }
        for sbgp in children[stbl] where boxes[sbgp].type == "sbgp" {
            let data = try payload(sbgp)
            let head = data.first == 1 ? 12 : 8
            guard data.count >= head + 4, Bytes.be(data, head, 4) <= (data.count - head - 4) / 8 else {
                throw fail("sbgp in \(name) is cut short")
            }
            var index: [Int] = []
            index.reserveCapacity(count)
            for entry in 0..<Bytes.be(data, head, 4) {
                let run = Bytes.be(data, head + 4 + entry * 8, 4)
                guard run <= count - index.count else { throw fail("sbgp in \(name) groups more samples than it has") }
                index += [Int](repeating: Bytes.be(data, head + 8 + entry * 8, 4), count: run)
            }
            // Samples after the last run belong to no group (index 0).
            index += [Int](repeating: 0, count: count - index.count)
            table.groups.append((Array(data[0..<head]), index))
        }
        return table
    }

    /// A run-length table (stts, ctts: count, value) expanded to one value per sample.
    func runs(_ data: [UInt8], count: Int, what: String, signed: Bool = false) throws(MediaError) -> [Int] {
        guard data.count >= 8, Bytes.be(data, 4, 4) <= (data.count - 8) / 8 else { throw fail("\(what) is cut short") }
        var values: [Int] = []
        values.reserveCapacity(count)
        for entry in 0..<Bytes.be(data, 4, 4) {
            let run = Bytes.be(data, 8 + entry * 8, 4)
            var value = Bytes.be(data, 12 + entry * 8, 4)
            if signed, value >= 1 << 31 { value -= 1 << 32 }
            guard run <= count - values.count else { throw fail("\(what) times more samples than the track has") }
            values += [Int](repeating: value, count: run)
        }
        guard values.count == count else { throw fail("\(what) times \(values.count) of \(count) samples") }
        return values
    }
}
