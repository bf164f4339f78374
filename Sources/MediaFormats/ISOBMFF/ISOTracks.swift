import ByteKit

/// The tracks of a movie: what each holds, whether publishing keeps it, and the file ranges of its chunks.
extension ISOMedia {
    struct Track {
        var box: Int
        var id: Int
        var handler: String
        var sampleEntries: [String]
        /// Each chunk's file range, in decoding order.
        var chunks: [Range<Int>]
        var keep: Bool
        /// Chunk lengths not given by the sample table (see `readTrack`).
        var unsized: Bool
        /// File ranges of the compressor names in a video track's sample entries (they name the encoder or camera).
        var compressorNames: [Range<Int>] = []
        /// Why a video or audio track is not published although its kind is (`keepPresentedTracks`).
        var dropReason: String? = nil
        /// A fragmented movie's samples of this track, read from its `moof` boxes (`ISOFragments.swift`).
        var fragments: ISOSampleTable? = nil
        /// The decoding time of a fragmented track's first sample (its first `tfdt`, 0 without one).
        var fragmentStart = 0
        /// The edit list a fragmented track is written with, where it needs one (`ISOFragmentEdits.swift`).
        var fragmentEdits: [UInt8]? = nil
    }

    /// Track handlers whose samples are pictures or sound; every other track (timed metadata, text, subtitles,
    /// timecode, hints, ...) is dropped.
    static let keptHandlers: Set<String> = ["vide", "soun"]

    func readTrack(_ trak: Int) throws(MediaError) -> Track {
        let where_ = "track at offset \(boxes[trak].offset)"
        guard let tkhd = child(trak, "tkhd") else { throw fail("\(where_) has no tkhd") }
        let head = try payload(tkhd, limit: 1 << 12)
        let idAt = head.first == 1 ? 20 : 12
        guard head.count >= idAt + 4 else { throw fail("tkhd at offset \(boxes[tkhd].offset) is too short") }
        let id = Bytes.be(head, idAt, 4)
        guard let mdia = child(trak, "mdia") else { throw fail("\(where_) has no mdia") }
        let handler = try self.handler(of: mdia) ?? "????"
        guard let stbl = path(mdia, ["minf", "stbl"]) else { throw fail("\(where_) has no sample table") }
        var entries: [String] = []
        var compressorNames: [Range<Int>] = []
        if let stsd = child(stbl, "stsd") {
            let data = try payload(stsd)
            if handler == "vide" {
                let base = boxes[stsd].payload.lowerBound
                compressorNames = ISOInspector.compressorNames(data).map {
                    (base + $0.lowerBound)..<(base + $0.upperBound)
                }
            }
            var at = 8
            while at + 8 <= data.count {
                let size = Bytes.be(data, at, 4)
                entries.append(String(decoding: data[(at + 4)..<(at + 8)], as: UTF8.self))
                guard size >= 8 else { break }
                at += size
            }
        }
        let keep =
            ISOMedia.keptHandlers.contains(handler) && !entries.isEmpty
            && entries.allSatisfy { !ISOInspector.metadataEntries.contains($0) }
        let chunks = try chunkRanges(stbl, where_: where_)
        // QuickTime's old sound descriptions count single bytes as samples, so the table's lengths are not the
        // chunks' real lengths: those are bounded later by the next chunk or the end of the mdat.
        let constant = try constantSampleSize(stbl)
        let unsized = keep && handler == "soun" && constant == 1
        if keep {
            guard let dinf = path(mdia, ["minf", "dinf"]), let dref = child(dinf, "dref") else {
                throw fail("\(where_) has no data reference")
            }
            let data = try payload(dref, limit: 1 << 16)
            var at = 8
            while at + 12 <= data.count {
                let size = Bytes.be(data, at, 4)
                guard size >= 12, at + size <= data.count else { break }
                guard data[at + 11] & 1 == 1 else {
                    throw MediaError.unsupported("\(where_): its media data lies in another file (data reference)")
                }
                at += size
            }
        }
        return Track(
            box: trak, id: id, handler: handler, sampleEntries: entries, chunks: chunks, keep: keep, unsized: unsized,
            compressorNames: compressorNames)
    }

    /// A track's sample count (stsz or stz2), 0 without a track or table.
    func sampleCount(_ track: Track?) throws(MediaError) -> Int {
        guard let track, let mdia = child(track.box, "mdia"), let stbl = path(mdia, ["minf", "stbl"]),
            let sizes = child(stbl, "stsz") ?? child(stbl, "stz2")
        else { return 0 }
        let payload = boxes[sizes].payload
        let head = try source.read(payload.lowerBound..<min(payload.upperBound, payload.lowerBound + 12))
        return head.count == 12 ? Bytes.be(head, 8, 4) : 0
    }

    /// A kept box's payload as the sanitizer publishes it (ISOExact): its defined fields, unknown sample-entry children
    /// as free boxes of zeros. The payload as it is when it cannot be sized (the sanitizer refuses such a file).
    func publishedPayload(_ index: Int, track: Track) throws(MediaError) -> [UInt8] {
        let data = try payload(index)
        guard
            let shape = try? ISOExact.shape(
                boxes[index].type, data, handler: track.handler, sampleCount: try sampleCount(track))
        else { return data }
        return shape.apply(data)
    }

    func constantSampleSize(_ stbl: Int) throws(MediaError) -> Int? {
        guard let stsz = child(stbl, "stsz") else { return nil }
        let data = try source.read(
            boxes[stsz].payload.lowerBound..<min(boxes[stsz].payload.upperBound, boxes[stsz].payload.lowerBound + 8))
        return data.count == 8 ? Bytes.be(data, 4, 4) : nil
    }

    /// Chunk offsets and lengths from stco/co64, stsc and stsz/stz2.
    func chunkRanges(_ stbl: Int, where_: String) throws(MediaError) -> [Range<Int>] {
        var offsets: [Int] = []
        if let stco = child(stbl, "stco") ?? child(stbl, "co64") {
            let wide = boxes[stco].type == "co64"
            let data = try payload(stco)
            guard data.count >= 8 else { throw fail("\(boxes[stco].type) in \(where_) is too short") }
            let count = Bytes.be(data, 4, 4)
            let width = wide ? 8 : 4
            guard count <= (data.count - 8) / width else {
                throw fail("\(boxes[stco].type) in \(where_) lists more chunks than it holds")
            }
            offsets.reserveCapacity(count)
            for index in 0..<count { offsets.append(Bytes.be(data, 8 + index * width, width)) }
        } else {
            throw fail("\(where_) has no chunk offsets (stco/co64)")
        }
        // Sample sizes.
        // 4 bytes a sample (sizes are 32-bit), so a long table costs what it costs in the file.
        var sizes: [UInt32] = []
        var constant = 0
        var sampleCount = 0
        if let stsz = child(stbl, "stsz") {
            let data = try payload(stsz)
            guard data.count >= 12 else { throw fail("stsz in \(where_) is too short") }
            constant = Bytes.be(data, 4, 4)
            sampleCount = Bytes.be(data, 8, 4)
            if constant == 0 {
                guard sampleCount <= (data.count - 12) / 4 else { throw fail("stsz in \(where_) is cut short") }
                sizes.reserveCapacity(sampleCount)
                for index in 0..<sampleCount { sizes.append(UInt32(Bytes.be(data, 12 + index * 4, 4))) }
            }
        } else if let stz2 = child(stbl, "stz2") {
            let data = try payload(stz2)
            guard data.count >= 12 else { throw fail("stz2 in \(where_) is too short") }
            let field = Int(data[7])
            sampleCount = Bytes.be(data, 8, 4)
            guard [4, 8, 16].contains(field), sampleCount <= (data.count - 12) * 8 / field else {
                throw fail("stz2 in \(where_) is malformed")
            }
            sizes.reserveCapacity(sampleCount)
            for index in 0..<sampleCount {
                switch field {
                case 4:
                    let byte = data[12 + index / 2]
                    sizes.append(UInt32(index % 2 == 0 ? byte >> 4 : byte & 0x0F))
                case 8: sizes.append(UInt32(data[12 + index]))
                default: sizes.append(UInt32(Bytes.be(data, 12 + index * 2, 2)))
                }
            }
        } else {
            throw fail("\(where_) has no sample sizes (stsz/stz2)")
        }
        // Samples per chunk.
        guard let stsc = child(stbl, "stsc") else { throw fail("\(where_) has no sample-to-chunk table (stsc)") }
        let table = try payload(stsc)
        guard table.count >= 8 else { throw fail("stsc in \(where_) is too short") }
        let runs = Bytes.be(table, 4, 4)
        guard runs <= (table.count - 8) / 12 else { throw fail("stsc in \(where_) is cut short") }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(offsets.count)
        var sample = 0
        for run in 0..<runs {
            let first = Bytes.be(table, 8 + run * 12, 4)
            let perChunk = Bytes.be(table, 8 + run * 12 + 4, 4)
            let next = run + 1 < runs ? Bytes.be(table, 8 + (run + 1) * 12, 4) : offsets.count + 1
            guard first >= 1, next > first, next <= offsets.count + 1, first == ranges.count + 1 else {
                throw fail("stsc in \(where_) does not match the chunk table")
            }
            for chunk in (first - 1)..<(next - 1) {
                guard perChunk <= sampleCount - sample else {
                    throw fail("stsc in \(where_) places more samples than stsz lists")
                }
                var length = 0
                if constant != 0 {
                    let (product, overflow) = constant.multipliedReportingOverflow(by: perChunk)
                    guard !overflow else { throw fail("a chunk of \(where_) is impossibly large") }
                    length = product
                } else {
                    for index in sample..<(sample + perChunk) { length += Int(sizes[index]) }
                }
                sample += perChunk
                let start = offsets[chunk]
                guard start >= 0, length <= source.count, start <= source.count - length else {
                    throw fail("a chunk of \(where_) lies outside the file")
                }
                ranges.append(start..<(start + length))
            }
        }
        guard ranges.count == offsets.count, sample == sampleCount else {
            throw fail("\(where_): \(sampleCount) samples listed, \(sample) placed in chunks")
        }
        return ranges
    }

    /// Bounds chunks whose length the sample table does not give (see `readTrack`) by the next chunk of any track
    /// or the end of the mdat box holding them.
    mutating func resolveUnsizedChunks() throws(MediaError) {
        guard tracks.contains(where: \.unsized) else { return }
        let starts = Array(Set(tracks.flatMap { $0.chunks.map(\.lowerBound) })).sorted()
        let mdats = roots.filter { boxes[$0].type == "mdat" }.map { boxes[$0].payload }.filter { !$0.isEmpty }
        for t in tracks.indices where tracks[t].unsized {
            tracks[t].chunks = try tracks[t].chunks.map { (chunk) throws(MediaError) -> Range<Int> in
                guard let mdat = Bytes.container(of: chunk.lowerBound..<(chunk.lowerBound + 1), in: mdats) else {
                    throw fail("a sound chunk at offset \(chunk.lowerBound) lies outside the media data")
                }
                var low = 0
                var high = starts.count
                while low < high {
                    let mid = (low + high) / 2
                    if starts[mid] <= chunk.lowerBound { low = mid + 1 } else { high = mid }
                }
                let end = low < starts.count ? min(starts[low], mdat.upperBound) : mdat.upperBound
                return chunk.lowerBound..<end
            }
        }
    }
}
