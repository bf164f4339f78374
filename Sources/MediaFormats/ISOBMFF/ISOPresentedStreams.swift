import ByteKit

/// One stream `presented_sha256` covers: byte ranges of the file hashed in order, or, for a video track whose codec
/// the rewriter filters (`ISOSampleFilter`: H.264, HEVC, Dolby Vision, AV1; Motion-JPEG and PNG frames through the
/// picture sanitizer), one range per needed sample, each hashed
/// as it is published (SEI user data, filler and AV1 metadata OBUs removed), and each sample's size in the track's
/// presentation fields its published size. The fingerprint is then the same for a
/// clip and its published copy, and for the same clip with or without an encoder's or camera's SEI (issue 22).
struct PresentedStream: Equatable {
    var ranges: [Range<Int>]
    /// One sample entry per range (format, NAL unit length size) when each range is a sample to filter; nil when the
    /// ranges are hashed as they are.
    var entries: [SampleEntry]?

    struct SampleEntry: Equatable {
        var format: String
        var lengthSize: Int
    }

    /// The bytes the stream contributes for `range` number `index`, given that range's bytes.
    func published(_ bytes: [UInt8], index: Int) throws(MediaError) -> [UInt8] {
        guard let entries else { return bytes }
        return try ISOSampleFilter.filter(bytes, format: entries[index].format, lengthSize: entries[index].lengthSize)
    }

    /// Adjacent ranges joined (never reordered), for comparing what two lists of ranges cover in hashing order.
    static func coalesced(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for range in ranges where !range.isEmpty {
            if let last = out.last, last.upperBound == range.lowerBound {
                out[out.count - 1] = last.lowerBound..<range.upperBound
            } else {
                out.append(range)
            }
        }
        return out
    }
}

extension ISOMedia {
    /// Every sample entry of a track's `stsd`, in order: its format and the NAL unit length size its avcC/hvcC gives.
    func sampleEntries(_ track: Track) throws(MediaError) -> [PresentedStream.SampleEntry] {
        guard let mdia = child(track.box, "mdia"), let stbl = path(mdia, ["minf", "stbl"]),
            let stsd = child(stbl, "stsd")
        else { return [] }
        let data = try payload(stsd)
        var entries: [PresentedStream.SampleEntry] = []
        var at = 8
        while at + 8 <= data.count {
            let size = Bytes.be(data, at, 4)
            guard size >= 8, size <= data.count - at else { break }
            let format = String(decoding: data[(at + 4)..<(at + 8)], as: UTF8.self)
            entries.append(.init(format: format, lengthSize: ISOSanitizer.lengthSize(data, entry: at..<(at + size))))
            at += size
        }
        return entries
    }

    /// Whether `ISOSampleFilter` rewrites samples of this format.
    static func isFiltered(_ format: String) -> Bool {
        ISOSampleFilter.avcFormats.contains(format) || ISOSampleFilter.hevcFormats.contains(format) || format == "av01"
            || ISOSampleFilter.pictureFormats.contains(format)
    }

    /// The streams `presented_sha256` covers, in the order they are hashed: each kept track's needed samples
    /// (`ISOTrim`; all its chunks when its edit list hides nothing outside them), per sample through the filter for
    /// a filtered video codec; then a HEIF's kept items (replaced by `publishedHEIFDigest`).
    func streams() throws(MediaError) -> [PresentedStream] {
        var streams: [PresentedStream] = []
        for track in tracks where track.keep {
            guard let (table, trim) = try presentedSamples(track) else {
                streams.append(PresentedStream(ranges: track.chunks, entries: nil))
                continue
            }
            let needed = table.count == 0 ? 0..<0 : trim.first..<(trim.last + 1)
            let all = track.handler == "vide" ? try sampleEntries(track) : []
            func entry(_ sample: Int) -> PresentedStream.SampleEntry? {
                let index = table.descriptionIndex[sample]
                return index >= 1 && index <= all.count ? all[index - 1] : nil
            }
            let filtered = needed.contains { entry($0).map { ISOMedia.isFiltered($0.format) } ?? false }
            if filtered {
                var stream = PresentedStream(ranges: [], entries: [])
                for sample in needed {
                    guard table.sizes[sample] <= ISOSanitizer.maxSampleBytes else {
                        throw MediaError.limitExceeded(
                            "a video sample of \(table.sizes[sample]) bytes (over \(ISOSanitizer.maxSampleBytes))")
                    }
                    stream.ranges.append(table.offsets[sample]..<(table.offsets[sample] + table.sizes[sample]))
                    // A sample without a readable entry is filtered as the rewriter filters it (an empty format).
                    stream.entries!.append(entry(sample) ?? .init(format: "", lengthSize: 4))
                }
                streams.append(stream)
            } else if !trim.trimmed {
                streams.append(PresentedStream(ranges: track.chunks, entries: nil))
            } else {
                let ranges = needed.map { table.offsets[$0]..<(table.offsets[$0] + table.sizes[$0]) }
                streams.append(PresentedStream(ranges: PresentedStream.coalesced(ranges), entries: nil))
            }
        }
        if let heif {
            let items = heif.items.sorted(by: { $0.id < $1.id }).filter(\.keep)
            streams.append(PresentedStream(ranges: items.flatMap(\.data), entries: nil))
        }
        return streams
    }

    /// One stream's digest, read range by range (not in the file's single pass), and for a filtered stream each
    /// sample's published size. `requireClean` (the verifier's reading of a written movie): a sample the filter
    /// would still change is refused, since the fingerprint, over filtered samples, cannot tell it from a clean one.
    func digest(of stream: PresentedStream, requireClean: Bool = false) throws(MediaError) -> (
        digest: [UInt8], sizes: [Int]?
    ) {
        var hasher = RangeHasher()
        guard stream.entries != nil else {
            for range in stream.ranges { try source.hash(range, into: &hasher) }
            return (hasher.finalizeBytes(), nil)
        }
        var sizes: [Int] = []
        sizes.reserveCapacity(stream.ranges.count)
        for (index, range) in stream.ranges.enumerated() {
            let bytes = try source.read(range)
            let published = try stream.published(bytes, index: index)
            if requireClean, published != bytes {
                throw MediaError.verificationFailed(
                    "the written file still holds metadata inside a video sample at offset \(range.lowerBound)")
            }
            hasher.update(published)
            sizes.append(published.count)
        }
        return (hasher.finalizeBytes(), sizes)
    }
}
