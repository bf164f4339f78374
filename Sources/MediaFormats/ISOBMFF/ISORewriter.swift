import ByteKit

/// A regular movie (MP4, MOV, M4V, 3GP) written anew from what it keeps (issue 22), instead of a patched copy:
/// `ftyp`, one `mdat` holding only the kept tracks' chunks, then a rebuilt `moov`. Dropped tracks' samples, `free`
/// and `wide` boxes, padding between chunks, unknown top-level boxes and trailers are not written at all (the
/// in-place sanitizer had to leave them as zeros to keep every offset).
///
/// The plan (`ISOSanitizer.plan`) is made first: every refusal and every rule for a kept box stays where it is.
/// Each kept box of the moov is written as the plan would leave it (times zeroed, handler names and compressor names
/// zeroed, data references blanked, each sized box cut to its defined fields, `ISOExact`); the chunk offsets
/// (`stco`, or `co64` past 4 GiB) are new. Chunks keep their samples, their order within a track and the input's
/// interleaving of tracks (they are written in the input's file order), so `stsc` and the timing tables are the
/// input's and `presented_sha256` is unchanged. Every video sample passes through `ISOSampleFilter`; when that
/// changes a size, the track's `stsz` is rebuilt from the sizes written, so the tables follow the data: the `mdat`
/// (64-bit size, patched at the end) comes before the `moov`.
///
/// Sample bytes are streamed: audio chunks by the kernel (`copy_file_range`), video samples one at a time. Only the
/// tables are held in memory.
extension ISOSanitizer {
    /// The largest single video sample read into memory (a 4K intra frame is a few MB).
    static let maxSampleBytes = 256 << 20

    /// What the rewriter needs of a kept video track's samples: how many each chunk holds, their sizes, and which
    /// sample entry (format, NAL length size) describes each chunk.
    struct VideoLayout {
        var perChunk: [Int] = []
        /// Decoding-order index of each chunk's first sample.
        var firstSample: [Int] = []
        var entryOfChunk: [Int] = []
        var sizes: [Int] = []
        var formats: [(format: String, lengthSize: Int)] = []
    }

    /// One chunk of the output: its bytes in the input, the samples it holds (input numbering; video only, which is
    /// written sample by sample through the filter) and its sample entry.
    struct OutputChunk {
        var range: Range<Int>
        var samples: Range<Int>?
        var entry: Int
    }

    /// Writes the rewritten movie into `fd` from offset 0 and returns its length. `trims` (by trak box index): the
    /// tracks cut to the samples their edit lists need. `note` is told, per track, how many bytes of metadata the
    /// sample filter removed (for the removed list).
    @discardableResult
    static func rewrite(
        _ media: ISOMedia, trims: [Int: TrimmedTrack] = [:], into fd: Int32, note: (String) -> Void = { _ in }
    ) throws(MediaError) -> Int {
        guard media.heif == nil else { throw fail("a HEIF picture is not rewritten as a movie") }
        let boxes = media.boxes
        let kept = media.tracks.indices.filter { media.tracks[$0].keep }
        var layouts: [Int: VideoLayout] = [:]
        var chunks: [Int: [OutputChunk]] = [:]
        for t in kept {
            let track = media.tracks[t]
            let video = track.handler == "vide" && !track.unsized
            if video { layouts[t] = try videoLayout(media, track) }
            if let trimmed = trims[track.box] {
                let table = trimmed.table
                chunks[t] = trimmed.chunks.map { samples in
                    let last = samples.upperBound - 1
                    return OutputChunk(
                        range: table.offsets[samples.lowerBound]..<(table.offsets[last] + table.sizes[last]),
                        samples: video ? samples : nil, entry: table.descriptionIndex[samples.lowerBound])
                }
            } else if let layout = layouts[t] {
                chunks[t] = track.chunks.indices.map { c in
                    OutputChunk(
                        range: track.chunks[c], samples: layout.firstSample[c]..<(layout.firstSample[c] + layout.perChunk[c]),
                        entry: layout.entryOfChunk[c])
                }
            } else {
                chunks[t] = track.chunks.map { OutputChunk(range: $0, samples: nil, entry: 0) }
            }
        }
        var order: [(track: Int, chunk: Int)] = []
        for t in kept { order += chunks[t]!.indices.map { (t, $0) } }
        order.sort { chunks[$0.track]![$0.chunk].range.lowerBound < chunks[$1.track]![$1.chunk].range.lowerBound }

        var cursor = 0
        if let ftyp = media.roots.first(where: { boxes[$0].type == "ftyp" }) {
            // Known brands only, a zero minor version (`ISOExact.publishedFileType`), as the verifier requires.
            let bytes = try movieBox("ftyp", try ISOExact.publishedFileType(try media.payload(ftyp, limit: 1 << 16)))
            try FileIO.writeAll(fd, bytes, bytes.count, at: 0)
            cursor = bytes.count
        }
        let mdatStart = cursor
        cursor += 16
        var offsets: [Int: [Int]] = [:]
        for t in kept { offsets[t] = [Int](repeating: 0, count: chunks[t]!.count) }
        // Each video sample's size as written (input numbering).
        var written: [Int: [Int]] = [:]
        for (t, layout) in layouts { written[t] = layout.sizes }
        for (t, c) in order {
            offsets[t]![c] = cursor
            let chunk = chunks[t]![c]
            guard let samples = chunk.samples, let layout = layouts[t] else {
                try FileIO.copyRange(media.source, chunk.range, to: fd, at: cursor)
                cursor += chunk.range.count
                continue
            }
            // Video: sample by sample through the codec-metadata filter.
            let (format, lengthSize) =
                chunk.entry >= 1 && chunk.entry <= layout.formats.count ? layout.formats[chunk.entry - 1] : ("", 4)
            var at = chunk.range.lowerBound
            for sample in samples {
                let size = layout.sizes[sample]
                guard size <= maxSampleBytes else {
                    throw MediaError.limitExceeded("a video sample of \(size) bytes (over \(maxSampleBytes))")
                }
                let filtered = try ISOSampleFilter.filter(
                    try media.source.read(at..<(at + size)), format: format, lengthSize: lengthSize)
                try FileIO.writeAll(fd, filtered, filtered.count, at: cursor)
                cursor += filtered.count
                written[t]![sample] = filtered.count
                at += size
            }
        }
        for t in kept.sorted() where layouts[t] != nil {
            let samples = chunks[t]!.compactMap(\.samples).flatMap { Array($0) }
            let removed = samples.reduce(0) { $0 + layouts[t]!.sizes[$1] - written[t]![$1] }
            if removed > 0 {
                note(
                    "track \(media.tracks[t].id) (video): \(removed) bytes of metadata in its samples "
                        + "(SEI, filler, AV1 metadata OBUs)")
            }
        }
        let mdatSize = cursor - mdatStart
        try FileIO.writeAll(fd, [0, 0, 0, 1] + Array("mdat".utf8) + Bytes.put(mdatSize, 8), 16, at: mdatStart)

        // New sample sizes where the filter changed one, and for every trimmed track.
        var newSizes: [Int: [Int]] = [:]
        for t in kept {
            let box = media.tracks[t].box
            if let trimmed = trims[box] {
                let sizes = written[t] ?? trimmed.table.sizes
                newSizes[box] = Array(sizes[trimmed.trim.first...trimmed.trim.last])
            } else if let layout = layouts[t], written[t]! != layout.sizes {
                newSizes[box] = written[t]!
            }
        }
        var newOffsets: [Int: [Int]] = [:]
        for t in kept { newOffsets[media.tracks[t].box] = offsets[t] }
        guard let moov = media.roots.first(where: { boxes[$0].type == "moov" }),
            let bytes = try MovieBoxWriter(media: media, offsets: newOffsets, sizes: newSizes, trims: trims)
                .emit(moov, track: nil)
        else { throw fail("no movie box to write") }
        try FileIO.writeAll(fd, bytes, bytes.count, at: cursor)
        return cursor + bytes.count
    }

    /// A box with a 32-bit size (a 64-bit one when it does not fit).
    static func movieBox(_ type: String, _ payload: [UInt8]) throws(MediaError) -> [UInt8] {
        let total = payload.count + 8
        if total <= Int(UInt32.max) { return Bytes.put(total, 4) + Array(type.utf8) + payload }
        return [0, 0, 0, 1] + Array(type.utf8) + Bytes.put(total + 8, 8) + payload
    }

    /// Per-chunk sample counts and sample entries (stsc), sample sizes (stsz/stz2) and the sample entries' formats.
    static func videoLayout(_ media: ISOMedia, _ track: ISOMedia.Track) throws(MediaError) -> VideoLayout {
        var layout = VideoLayout()
        guard let mdia = media.child(track.box, "mdia"), let stbl = media.path(mdia, ["minf", "stbl"]),
            let stsc = media.child(stbl, "stsc")
        else { throw fail("track \(track.id) has no sample table") }
        let table = try media.payload(stsc)
        let runs = track.fragments == nil ? Bytes.be(table, 4, 4) : 0
        let chunks = track.chunks.count
        if let fragments = track.fragments {
            // A fragmented movie's samples: one chunk per trun (ISOFragments.swift).
            var first = 0
            for index in 0..<fragments.count where index == 0 || fragments.chunk[index] != fragments.chunk[index - 1] {
                if index > 0 { layout.perChunk.append(index - first) }
                layout.entryOfChunk.append(fragments.descriptionIndex[index])
                first = index
            }
            if fragments.count > 0 { layout.perChunk.append(fragments.count - first) }
            layout.sizes = fragments.sizes
        }
        for run in 0..<runs {
            let first = Bytes.be(table, 8 + run * 12, 4)
            let next = run + 1 < runs ? Bytes.be(table, 8 + (run + 1) * 12, 4) : chunks + 1
            for _ in first..<next {
                layout.perChunk.append(Bytes.be(table, 12 + run * 12, 4))
                layout.entryOfChunk.append(Bytes.be(table, 16 + run * 12, 4))
            }
        }
        let count = try media.sampleCount(track)
        if track.fragments != nil {
            // Sizes from the fragments (above).
        } else if let stsz = media.child(stbl, "stsz") {
            let data = try media.payload(stsz)
            let constant = Bytes.be(data, 4, 4)
            layout.sizes =
                constant != 0
                ? [Int](repeating: constant, count: count) : (0..<count).map { Bytes.be(data, 12 + $0 * 4, 4) }
        } else if let stz2 = media.child(stbl, "stz2") {
            let data = try media.payload(stz2)
            let field = Int(data[7])
            layout.sizes = (0..<count).map { index in
                switch field {
                case 4: return Int(index % 2 == 0 ? data[12 + index / 2] >> 4 : data[12 + index / 2] & 0x0F)
                case 8: return Int(data[12 + index])
                default: return Bytes.be(data, 12 + index * 2, 2)
                }
            }
        }
        // chunkRanges checked these tables agree; a disagreement here is a reading error, refused.
        var total = 0
        for count in layout.perChunk {
            layout.firstSample.append(total)
            total += count
        }
        guard layout.perChunk.count == chunks, layout.perChunk.reduce(0, +) == layout.sizes.count else {
            throw fail("track \(track.id): its sample tables do not agree")
        }
        if let stsd = media.child(stbl, "stsd") {
            let data = try media.payload(stsd)
            var at = 8
            while at + 8 <= data.count {
                let size = Bytes.be(data, at, 4)
                guard size >= 8, size <= data.count - at else { break }
                let format = String(decoding: data[(at + 4)..<(at + 8)], as: UTF8.self)
                layout.formats.append((format, lengthSize(data, entry: at..<(at + size))))
                at += size
            }
        }
        return layout
    }

    /// The NAL unit length size a visual sample entry's avcC or hvcC declares (4 when it has neither).
    static func lengthSize(_ stsd: [UInt8], entry: Range<Int>) -> Int {
        var at = entry.lowerBound + 8 + 78
        while at + 8 <= entry.upperBound {
            let size = Bytes.be(stsd, at, 4)
            guard size >= 8, size <= entry.upperBound - at else { break }
            let type = String(decoding: stsd[(at + 4)..<(at + 8)], as: UTF8.self)
            if type == "avcC", size >= 13 { return Int(stsd[at + 12] & 3) + 1 }
            if type == "hvcC", size >= 30 { return Int(stsd[at + 8 + 21] & 3) + 1 }
            at += size
        }
        return 4
    }
}
