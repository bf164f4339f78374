import ByteKit

/// The content fingerprints of ISO-BMFF media: the streams they cover and the one sequential pass that computes them.
extension ISOMedia {
    /// Every byte range of kept media (kept tracks' chunks and kept image items' extents in the file), merged.
    func keptRanges() -> [Range<Int>] {
        var all = tracks.filter(\.keep).flatMap(\.chunks)
        if let heif { all += heif.items.filter(\.keep).flatMap { $0.fileExtents } }
        return Bytes.merge(all)
    }

    /// Definition 1 of `content_sha256` (coded data only; records that name only it are refused, see
    /// `ISOPresentation.swift` for definition 2): one SHA-256 per stream (each kept audio or video track: its chunks in decoding
    /// order; the kept image items of a HEIF: their data in item-ID order), then SHA-256 over those digests
    /// sorted bytewise. Boxes, sample tables and metadata are outside it, so neither sanitizing, nor a tool that
    /// rewrites the moov, nor a remux that reorders tracks changes it.
    func contentSHA256() throws(MediaError) -> String {
        var digests: [[UInt8]] = []
        for stream in legacyStreams() {
            var hasher = RangeHasher()
            for range in stream { try source.hash(range, into: &hasher) }
            digests.append(hasher.finalizeBytes())
        }
        if let heif = try publishedHEIFDigest() { digests[digests.count - 1] = heif }
        return ISOMedia.combine(digests)
    }

    /// The byte ranges of each stream definition 1's `content_sha256` covers: every chunk of a kept track.
    func legacyStreams() -> [[Range<Int>]] {
        var streams = tracks.filter(\.keep).map(\.chunks)
        if let heif { streams.append(heif.items.sorted(by: { $0.id < $1.id }).filter(\.keep).flatMap(\.data)) }
        return streams
    }

    /// The byte ranges of each stream `presented_sha256` covers, in the order they are hashed: a track's needed
    /// samples (`ISOTrim`; all its chunks when its edit list hides nothing outside them).
    func streams() throws(MediaError) -> [[Range<Int>]] {
        var streams: [[Range<Int>]] = []
        for track in tracks where track.keep {
            // A track cut by its edit list: the samples a viewer needs (ISOTrim), else its chunks (the same bytes).
            guard let (table, trim) = try presentedSamples(track), trim.trimmed else {
                streams.append(track.chunks)
                continue
            }
            var ranges: [Range<Int>] = []
            for sample in trim.first...trim.last {
                let range = table.offsets[sample]..<(table.offsets[sample] + table.sizes[sample])
                if let last = ranges.last, last.upperBound == range.lowerBound {
                    ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    ranges.append(range)
                }
            }
            streams.append(ranges)
        }
        if let heif { streams.append(heif.items.sorted(by: { $0.id < $1.id }).filter(\.keep).flatMap(\.data)) }
        return streams
    }

    static func combine(_ digests: [[UInt8]]) -> String {
        var outer = RangeHasher()
        for digest in digests.sorted(by: { $0.lexicographicallyPrecedes($1) }) { outer.update(digest) }
        return outer.finalize()
    }

    /// `file_sha256`, `presented_sha256` and definition 1's `content_sha256` from one sequential read of the file, so both describe the same bytes:
    /// each 1 MiB piece feeds the file's hasher and, where it holds a stream's next chunk, that stream's hasher.
    /// A stream whose ranges do not come in increasing file order (rare) is hashed by a second read. Afterwards the
    /// file must show the size and times it had when it was opened. With `hashingFile` false the file's own hash is
    /// not computed (returned empty): the pass then reads only the streams' bytes.
    func fingerprints(hashingFile: Bool = true) throws(MediaError) -> (
        file: String, presented: String, content: String
    ) {
        // The tables are read before the pass over the media, and checked unchanged after it.
        let presentations = try presentations()
        let movie = try moviePresentation()
        let streams = try streams().map { $0.filter { !$0.isEmpty } }
        var hashers = [RangeHasher](repeating: RangeHasher(), count: streams.count)
        let inOrder = streams.map { ranges in
            zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound <= $1.lowerBound }
        }
        // Every in-order stream's ranges, merged into one list by offset (ranges never overlap: see above).
        var pending: [(range: Range<Int>, stream: Int)] = []
        for (index, ranges) in streams.enumerated() where inOrder[index] {
            pending += ranges.map { ($0, index) }
        }
        pending.sort { $0.range.lowerBound < $1.range.lowerBound }
        var fileHasher = RangeHasher()
        var next = 0
        var offset = 0
        while offset < source.count {
            if !hashingFile {
                // Only the streams are wanted: go straight to the next one's bytes (or stop after the last).
                guard next < pending.count else { break }
                offset = max(offset, pending[next].range.lowerBound)
                guard offset < source.count else { break }
            }
            let piece = try source.read(offset..<min(source.count, offset + (1 << 20)))
            let end = offset + piece.count
            if hashingFile { fileHasher.update(piece) }
            while next < pending.count, pending[next].range.lowerBound < end {
                let range = pending[next].range
                let part = max(range.lowerBound, offset)..<min(range.upperBound, end)
                hashers[pending[next].stream].update(piece, (part.lowerBound - offset)..<(part.upperBound - offset))
                guard range.upperBound <= end else { break }
                next += 1
            }
            offset = end
        }
        for (index, ranges) in streams.enumerated() where !inOrder[index] {
            for range in ranges { try source.hash(range, into: &hashers[index]) }
        }
        var digests = hashers.map { $0.finalizeBytes() }
        // A HEIF's kept items as published (metadata NAL units and OBUs out of their data: HEIFItemData).
        if let heif = try publishedHEIFDigest() { digests[digests.count - 1] = heif }
        // Definition 1 covers every chunk: a trimmed track's whole stream is read again for it.
        var legacy = digests
        for (index, ranges) in legacyStreams().enumerated() where ranges.filter({ !$0.isEmpty }) != streams[index] {
            var hasher = RangeHasher()
            for range in ranges { try source.hash(range, into: &hasher) }
            legacy[index] = hasher.finalizeBytes()
        }
        // The tables were read before this pass: a writer in between would make the two disagree.
        if let change = source.changeSinceOpened() { throw .io(change) }
        let values = ISOMedia.fingerprintValues(data: digests, presentations: presentations, movie: movie)
        return (hashingFile ? fileHasher.finalize() : "", values.presented, ISOMedia.combine(legacy))
    }
}
