import ByteKit

/// Fragmented movies (issue 29 item 1): `moov` with `mvex`/`trex` defaults, then `moof`/`traf` boxes whose `tfhd`,
/// `tfdt` and `trun` boxes list each track's samples. They are read into the same per-sample model as a regular
/// movie's tables (`ISOSampleTable`), one chunk per `trun`, and the rewriter writes a regular movie from them
/// (every table built, `mvex` and the fragments left out). `sidx`, `mfra`, `styp` and `ssix` are ignored.
/// A track with samples in its `moov` tables as well keeps them first, the fragments' after them in decoding order
/// (`continueMovieSamples`). A fragmented track's edit list, and a first fragment that starts past decoding time 0,
/// are shown as ffmpeg shows them: written as an edit list of the regular movie (`ISOFragmentEdits.swift`).
/// Refused: encrypted fragments (`senc`, `pssh`, `tenc`, `encv`/`enca` sample entries); the edit-list shapes
/// `fragmentEditShift` names (several media edits, a dwell, an edit ending before the samples); an edit list on a
/// track with samples both in the `moov` and in fragments; fragments that overlap in time, and two samples at one
/// decoding time (a sample of no duration before a fragment that starts at its time: ffmpeg's `frag_every_frame`
/// sound, of which ffmpeg plays one).
extension ISOMedia {
    static let encryptionBoxes: Set<String> = ["senc", "pssh", "tenc", "sinf", "schm", "schi"]
    static let encryptedEntries: Set<String> = ["encv", "enca", "enct", "encs"]

    /// Reads every fragment into its track's sample table and chunks.
    mutating func readFragments(mvex: Int?) throws(MediaError) {
        if let box = boxes.first(where: { ISOMedia.encryptionBoxes.contains($0.type) }) {
            throw MediaError.unsupported("encrypted movie (\(box.type) at offset \(box.offset)) is not supported")
        }
        if let track = tracks.first(where: { $0.sampleEntries.contains(where: ISOMedia.encryptedEntries.contains) }) {
            throw MediaError.unsupported("encrypted movie (track \(track.id) has an encrypted sample entry)")
        }
        // trex: default sample description index, duration, size and flags per track.
        var defaults: [Int: (entry: Int, duration: Int, size: Int, flags: Int)] = [:]
        for trex in mvex.map({ children[$0] }) ?? [] where boxes[trex].type == "trex" {
            let data = try payload(trex, limit: 64)
            guard data.count >= 24 else { throw fail("trex at offset \(boxes[trex].offset) is too short") }
            defaults[Bytes.be(data, 4, 4)] = (
                Bytes.be(data, 8, 4), Bytes.be(data, 12, 4), Bytes.be(data, 16, 4), Bytes.be(data, 20, 4)
            )
        }
        var tables: [Int: ISOSampleTable] = [:]
        var chunks: [Int: [Range<Int>]] = [:]
        var nextTime: [Int: Int] = [:]
        var starts: [Int: Int] = [:]
        var started: Set<Int> = []
        for moof in roots where boxes[moof].type == "moof" {
            var previousEnd = boxes[moof].offset
            for traf in children[moof] where boxes[traf].type == "traf" {
                guard let tfhd = child(traf, "tfhd") else { throw fail("traf at offset \(boxes[traf].offset) has no tfhd") }
                let head = try payload(tfhd, limit: 64)
                guard head.count >= 8 else { throw fail("tfhd at offset \(boxes[tfhd].offset) is too short") }
                let flags = Bytes.be(head, 1, 3)
                let id = Bytes.be(head, 4, 4)
                guard tracks.contains(where: { $0.id == id }) else {
                    throw fail("a fragment names track \(id), which the movie does not have")
                }
                if !started.contains(id) {
                    started.insert(id)
                    try continueMovieSamples(id, &tables, &chunks, &nextTime)
                }
                let fallback = defaults[id] ?? (1, 0, 0, 0)
                var at = 8
                func field(_ bit: Int, _ width: Int) throws(MediaError) -> Int? {
                    guard flags & bit != 0 else { return nil }
                    guard head.count >= at + width else { throw fail("tfhd at offset \(boxes[tfhd].offset) is too short") }
                    defer { at += width }
                    return Bytes.be(head, at, width)
                }
                let explicitBase = try field(0x1, 8)
                let entry = try field(0x2, 4) ?? fallback.entry
                let defaultDuration = try field(0x8, 4) ?? fallback.duration
                let defaultSize = try field(0x10, 4) ?? fallback.size
                let defaultFlags = try field(0x20, 4) ?? fallback.flags
                let base = explicitBase ?? (flags & 0x20000 != 0 ? boxes[moof].offset : previousEnd)
                if let tfdt = child(traf, "tfdt") {
                    let data = try payload(tfdt, limit: 64)
                    guard data.count >= (data.first == 1 ? 12 : 8) else { throw fail("tfdt is too short") }
                    let time = Bytes.be(data, 4, data.first == 1 ? 8 : 4)
                    // Decoding times beyond 2^48 ticks (over 8 years at 1 MHz) are refused: every sum of them stays exact.
                    guard time >= 0, time < 1 << 48 else {
                        throw MediaError.unsupported("track \(id) has a fragment at decoding time \(time): not supported")
                    }
                    if tables[id] == nil, nextTime[id] == nil {
                        // The track's first sample: its decoding time (ISOFragmentEdits.swift shows it as ffmpeg does).
                        starts[id] = time
                        nextTime[id] = time
                    }
                    let expected = nextTime[id] ?? 0
                    if time == expected, tables[id]?.durations.last == 0 {
                        // Two samples at one decoding time (ffmpeg's frag_every_frame writes sound so): ffmpeg decodes
                        // both and its command line plays one; a regular copy would play both.
                        throw MediaError.unsupported(
                            "fragmented track \(id) has two samples at decoding time \(time) (the first of no duration): "
                                + "players differ on which to play; export it without frag_every_frame")
                    }
                    if time > expected, var table = tables[id], !table.durations.isEmpty {
                        // A gap between fragments: the last sample lasts until the next one starts.
                        table.durations[table.durations.count - 1] += time - expected
                        tables[id] = table
                        nextTime[id] = time
                    } else if time != expected {
                        throw fail("the fragments of track \(id) overlap in time (decoding time \(time), expected \(expected))")
                    }
                }
                var dataEnd = base
                for trun in children[traf] where boxes[trun].type == "trun" {
                    let data = try payload(trun)
                    guard data.count >= 8 else { throw fail("trun at offset \(boxes[trun].offset) is too short") }
                    let runFlags = Bytes.be(data, 1, 3)
                    let count = Bytes.be(data, 4, 4)
                    var position = 8
                    var offset = dataEnd
                    if runFlags & 0x1 != 0 {
                        guard data.count >= position + 4 else { throw fail("trun is too short") }
                        var relative = Bytes.be(data, position, 4)
                        if relative >= 1 << 31 { relative -= 1 << 32 }
                        offset = base + relative
                        position += 4
                    }
                    var firstFlags: Int? = nil
                    if runFlags & 0x4 != 0 {
                        guard data.count >= position + 4 else { throw fail("trun is too short") }
                        firstFlags = Bytes.be(data, position, 4)
                        position += 4
                    }
                    let perSample = [0x100, 0x200, 0x400, 0x800].filter { runFlags & $0 != 0 }.count * 4
                    // A run with no per-sample field (every value from tfhd or trex) holds none of its samples' bytes.
                    guard perSample == 0 || count <= (data.count - position) / perSample, count <= ISOSampleTable.maxSamples
                    else {
                        throw fail("trun at offset \(boxes[trun].offset) lists more samples than it holds")
                    }
                    var table = tables[id] ?? ISOSampleTable(compositionOffsets: [], sync: [])
                    let chunkIndex = chunks[id, default: []].count
                    let start = offset
                    for index in 0..<count {
                        let duration = runFlags & 0x100 != 0 ? Bytes.be(data, position, 4) : defaultDuration
                        if runFlags & 0x100 != 0 { position += 4 }
                        let size = runFlags & 0x200 != 0 ? Bytes.be(data, position, 4) : defaultSize
                        if runFlags & 0x200 != 0 { position += 4 }
                        var sampleFlags = index == 0 ? (firstFlags ?? defaultFlags) : defaultFlags
                        if runFlags & 0x400 != 0 {
                            sampleFlags = Bytes.be(data, position, 4)
                            position += 4
                        }
                        var composition = 0
                        if runFlags & 0x800 != 0 {
                            composition = Bytes.be(data, position, 4)
                            if data[0] == 1, composition >= 1 << 31 { composition -= 1 << 32 }
                            position += 4
                        }
                        guard offset >= 0, size <= source.count, offset <= source.count - size else {
                            throw fail("a sample of track \(id) lies outside the file")
                        }
                        table.sizes.append(size)
                        table.offsets.append(offset)
                        table.durations.append(duration)
                        table.compositionOffsets!.append(composition)
                        // sample_is_non_sync_sample (bit 16 of the sample flags).
                        table.sync!.append(sampleFlags & 0x10000 == 0)
                        table.descriptionIndex.append(entry)
                        table.chunk.append(chunkIndex)
                        offset += size
                        nextTime[id, default: 0] += duration
                    }
                    tables[id] = table
                    chunks[id, default: []].append(start..<offset)
                    dataEnd = offset
                }
                previousEnd = dataEnd
            }
        }
        for index in tracks.indices {
            guard var table = tables[tracks[index].id] else { continue }
            // Per-sample tables read from the moov cover its samples only: the fragments' have none (unknown).
            if let dependencies = table.dependencies {
                table.dependencies = dependencies + [UInt8](repeating: 0, count: table.count - dependencies.count)
            }
            for group in table.groups.indices {
                table.groups[group].index += [Int](repeating: 0, count: table.count - table.groups[group].index.count)
            }
            if table.compositionOffsets?.allSatisfy({ $0 == 0 }) ?? true { table.compositionOffsets = nil }
            if table.sync?.allSatisfy({ $0 }) ?? true { table.sync = nil }
            tracks[index].fragments = table
            tracks[index].fragmentStart = starts[tracks[index].id] ?? 0
            tracks[index].chunks = chunks[tracks[index].id] ?? []
        }
    }

    /// A track with samples in its moov's tables as well as in fragments (a movie fragmented without `empty_moov`):
    /// the moov's samples come first, in decoding order, and the fragments' continue them (their first `tfdt`, if
    /// any, is checked against the tables' total duration by the gap and overlap rule of fragments). Such a track
    /// with an edit list is refused: ffmpeg cuts the moov's samples by it and only shifts the fragments'.
    func continueMovieSamples(
        _ id: Int, _ tables: inout [Int: ISOSampleTable], _ chunks: inout [Int: [Range<Int>]], _ nextTime: inout [Int: Int]
    ) throws(MediaError) {
        guard let track = tracks.first(where: { $0.id == id }), !track.chunks.isEmpty, try sampleCount(track) > 0 else {
            return
        }
        if try editList(track.box) != nil {
            throw MediaError.unsupported(
                "track \(id) has samples both in its sample table and in fragments, and an edit list (players read "
                    + "it for the table's samples only): export it without fragments")
        }
        var table = try sampleTable(track)
        if table.compositionOffsets == nil { table.compositionOffsets = [Int](repeating: 0, count: table.count) }
        if table.sync == nil { table.sync = [Bool](repeating: true, count: table.count) }
        tables[id] = table
        chunks[id] = track.chunks
        nextTime[id] = table.durations.reduce(0, +)
    }
}
