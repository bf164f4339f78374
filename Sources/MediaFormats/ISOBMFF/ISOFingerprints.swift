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

    static func combine(_ digests: [[UInt8]]) -> String {
        var outer = RangeHasher()
        for digest in digests.sorted(by: { $0.lexicographicallyPrecedes($1) }) { outer.update(digest) }
        return outer.finalize()
    }

    /// `file_sha256`, `presented_sha256` and definition 1's `content_sha256` from one sequential read of the file, so both describe the same bytes:
    /// each 1 MiB piece feeds the file's hasher and, where it holds a stream's next chunk, that stream's hasher.
    /// A stream whose ranges do not come in increasing file order (rare) is hashed by a second read. Afterwards the
    /// file must show the size and times it had when it was opened. With `hashingFile` false neither the file's own
    /// hash nor definition 1's `content_sha256` is computed (both returned empty): the pass then reads only the
    /// streams' bytes and hashes each once, as published. A stream published as it is (no sample filtered) has one
    /// hasher for both definitions: its raw bytes are what it presents.
    func fingerprints(hashingFile: Bool = true) throws(MediaError) -> (
        file: String, presented: String, content: String
    ) {
        // The tables are read around the pass over the media (a filtered track's published sample sizes are known
        // after it), and the file checked unchanged after both.
        let movie = try moviePresentation()
        let streams = try streams()
        var publishedSizes: [[Int]?] = streams.map {
            $0.entries == nil ? nil : [Int](repeating: 0, count: $0.ranges.count)
        }
        var hashers = [RangeHasher](repeating: RangeHasher(), count: streams.count)
        // The raw bytes of each stream (definition 1 where they are its chunks), and the filtered sample being read.
        var raw = [RangeHasher](repeating: RangeHasher(), count: streams.count)
        var sample = [[UInt8]](repeating: [], count: streams.count)
        let inOrder = streams.map { stream in
            zip(stream.ranges, stream.ranges.dropFirst()).allSatisfy { $0.upperBound <= $1.lowerBound }
        }
        // Every in-order stream's ranges, merged into one list by offset (ranges never overlap: see above).
        var pending: [(range: Range<Int>, stream: Int, index: Int)] = []
        for (index, stream) in streams.enumerated() where inOrder[index] {
            pending += stream.ranges.enumerated().filter { !$0.element.isEmpty }.map { ($0.element, index, $0.offset) }
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
                let (range, s, index) = pending[next]
                let part = (max(range.lowerBound, offset) - offset)..<(min(range.upperBound, end) - offset)
                if streams[s].entries == nil {
                    hashers[s].update(piece, part)
                } else {
                    // A sample to filter: gathered whole (at most maxSampleBytes), then hashed as published.
                    if hashingFile { raw[s].update(piece, part) }
                    sample[s] += piece[part]
                    if range.upperBound <= end {
                        let published = try streams[s].published(sample[s], index: index)
                        hashers[s].update(published)
                        publishedSizes[s]![index] = published.count
                        sample[s] = []
                    }
                }
                guard range.upperBound <= end else { break }
                next += 1
            }
            offset = end
        }
        var digests = hashers.map { $0.finalizeBytes() }
        var rawDigests = raw.indices.map { streams[$0].entries == nil ? digests[$0] : raw[$0].finalizeBytes() }
        for (index, stream) in streams.enumerated() where !inOrder[index] {
            (digests[index], publishedSizes[index]) = try digest(of: stream)
            rawDigests[index] = digests[index]
            guard hashingFile, stream.entries != nil else { continue }
            var hasher = RangeHasher()
            for range in stream.ranges { try source.hash(range, into: &hasher) }
            rawDigests[index] = hasher.finalizeBytes()
        }
        // A HEIF's kept items as published (metadata NAL units and OBUs out of their data: HEIFItemData).
        // Definition 1 of a HEIF takes the same published digest (as `contentSHA256`).
        var legacy = rawDigests
        if let heif = try publishedHEIFDigest() {
            digests[digests.count - 1] = heif
            legacy[legacy.count - 1] = heif
        }
        // Definition 1 covers every chunk as it is: a trimmed track's whole stream is read again for it.
        for (index, ranges) in legacyStreams().enumerated()
        where hashingFile && PresentedStream.coalesced(ranges) != PresentedStream.coalesced(streams[index].ranges) {
            var hasher = RangeHasher()
            for range in ranges { try source.hash(range, into: &hasher) }
            legacy[index] = hasher.finalizeBytes()
        }
        let presentations = try presentations(publishedSizes: publishedSizes)
        // The tables were read around this pass: a writer in between would make them and the data disagree.
        if let change = source.changeSinceOpened() { throw .io(change) }
        let values = ISOMedia.fingerprintValues(data: digests, presentations: presentations, movie: movie)
        return (
            hashingFile ? fileHasher.finalize() : "", values.presented, hashingFile ? ISOMedia.combine(legacy) : ""
        )
    }
}
