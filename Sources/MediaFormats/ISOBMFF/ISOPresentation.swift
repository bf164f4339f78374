import ByteKit

/// `presented_sha256` for ISO-BMFF (SPEC §4, definition 2), and the rule that hidden media is not published.
///
/// Each stream's digest is SHA-256 over the definition's name, its coded data's SHA-256 (as in definition 1: a
/// track's chunks in decoding order, a HEIF's picture items in item-ID order) and its presentation fields (tagged
/// as in `PresentedFingerprint.Fields`):
/// - a kept audio or video track: its handler; from tkhd the enabled/in-movie/preview/aspect flags, duration,
///   layer, alternate group, volume, matrix, width and height; from mdhd the timescale and duration; the edit
///   list (elst payload); vmhd or smhd; tapt; the sample descriptions (stsd payload, each visual entry's
///   compressor name taken as zeros, as the sanitizer writes it); the timing (stts, ctts) and the sample layout
///   (stsc, stsz or stz2) payloads. Track IDs, creation and modification times, chunk offsets, sync-sample and
///   grouping tables are outside it.
/// - a HEIF picture: the primary item; for each kept picture item (item-ID order) its ID, type and extent
///   lengths, then each property associated with it that the sanitizer keeps (type, essential flag, payload:
///   hvcC/av1C..., ispe, pixi, colr, irot, imir, clap, pasp, auxC...), in association order; then the
///   references between kept items (dimg, auxl, base...), in iref order.
/// The file's value is SHA-256 over the definition's name, for a movie the mvhd timescale, duration, rate, volume
/// and matrix, and the streams' digests sorted bytewise (so the order of tracks does not matter).
extension ISOMedia {
    /// The presentation fields of each stream, in the order of `streams()`; `publishedSizes` (by stream): the
    /// published size of each needed sample of a filtered video track (`PresentedStream`).
    func presentations(publishedSizes: [[Int]?] = []) throws(MediaError) -> [[UInt8]] {
        var all: [[UInt8]] = []
        for track in tracks where track.keep {
            let sizes = all.count < publishedSizes.count ? publishedSizes[all.count] : nil
            all.append(try presentation(of: track, publishedSizes: sizes))
        }
        if let heif { all.append(try presentation(of: heif)) }
        return all
    }

    /// mvhd's presentation fields when a movie is kept (a HEIF's motion-photo movie is dropped).
    func moviePresentation() throws(MediaError) -> [UInt8] {
        guard heif == nil, let moov = roots.first(where: { boxes[$0].type == "moov" }),
            let mvhd = child(moov, "mvhd")
        else { return [] }
        let data = try payload(mvhd, limit: 1 << 12)
        let wide = data.first == 1
        let scaleAt = wide ? 20 : 12
        let rateAt = scaleAt + 4 + (wide ? 8 : 4)
        guard data.count >= rateAt + 4 + 2 + 10 + 36 else { throw fail("mvhd at offset \(boxes[mvhd].offset) is too short") }
        var fields = PresentationFields()
        fields.add("mvhd", Array(data[scaleAt..<(scaleAt + 4)]) + Bytes.put(Bytes.be(data, scaleAt + 4, wide ? 8 : 4), 8)
            + Array(data[rateAt..<(rateAt + 6)]) + Array(data[(rateAt + 16)..<(rateAt + 52)]))
        return fields.bytes
    }

    func presentation(of track: Track, publishedSizes: [Int]? = nil) throws(MediaError) -> [UInt8] {
        var fields = PresentationFields()
        let trak = track.box
        fields.add("handler", Array(track.handler.utf8))
        guard let tkhd = child(trak, "tkhd") else { throw fail("track \(track.id) has no tkhd") }
        let head = try payload(tkhd, limit: 1 << 12)
        let wide = head.first == 1
        let durationAt = wide ? 28 : 20
        let geometryAt = durationAt + (wide ? 8 : 4) + 8
        guard head.count >= geometryAt + 52 else { throw fail("tkhd at offset \(boxes[tkhd].offset) is too short") }
        fields.add(
            "tkhd",
            [head[3] & 0x0F] + Bytes.put(Bytes.be(head, durationAt, wide ? 8 : 4), 8)
                + Array(head[geometryAt..<(geometryAt + 52)]))
        guard let mdia = child(trak, "mdia"), let mdhd = child(mdia, "mdhd") else {
            throw fail("track \(track.id) has no mdhd")
        }
        let media = try payload(mdhd, limit: 1 << 12)
        let scaleAt = media.first == 1 ? 20 : 12
        guard media.count >= scaleAt + (media.first == 1 ? 12 : 8) else {
            throw fail("mdhd at offset \(boxes[mdhd].offset) is too short")
        }
        // A track read sample by sample (every one but QuickTime's byte-counted sound) is fingerprinted by the samples
        // a viewer needs and their timing from the first of them (ISOTrim), so a copy cut to them presents the same.
        let samples = try presentedSamples(track)
        if samples != nil {
            fields.add("mdhd", Array(media[scaleAt..<(scaleAt + 4)]))
        } else {
            fields.add(
                "mdhd",
                Array(media[scaleAt..<(scaleAt + 4)]) + Bytes.put(Bytes.be(media, scaleAt + 4, media.first == 1 ? 8 : 4), 8))
        }
        // A fragmented track's edit list as it is written (`fragmentEdits`), else the elst as published.
        var edits = track.fragmentEdits
        if edits == nil, track.fragments == nil, let elst = try editList(trak) { edits = try publishedPayload(elst, track: track) }
        if let published = edits {
            if let (table, trim) = samples {
                let open = try openEditLength(table, trim)
                fields.add("elst", try TrimmedTrack.shifted(published, by: trim.shift, open: open))
            } else {
                fields.add("elst", published)
            }
        }
        if let tapt = child(trak, "tapt") { fields.add("tapt", try payload(tapt, limit: 1 << 16)) }
        if let minf = child(mdia, "minf") {
            for header in ["vmhd", "smhd"] {
                if let box = child(minf, header) { fields.add(header, try publishedPayload(box, track: track)) }
            }
        }
        guard let stbl = path(mdia, ["minf", "stbl"]) else { throw fail("track \(track.id) has no sample table") }
        for table in ["stsd", "stts", "ctts", "stsc", "stsz", "stz2"] {
            guard let box = child(stbl, table), samples == nil || table == "stsd" else { continue }
            var data = try publishedPayload(box, track: track)
            if table == "stsd" {
                for name in ISOInspector.compressorNames(data) where track.handler == "vide" {
                    for index in name { data[index] = 0 }
                }
                // Without the `free` boxes publishing leaves in its entries, and without `btrt` (bit rates computed
                // from the sample sizes, which filtering changes; `compactSampleDescriptions`).
                data = ISOExact.compactSampleDescriptions(data, handler: track.handler, dropping: ["btrt"])
            }
            fields.add(table, data)
        }
        if let (table, trim) = samples {
            // Each needed sample: size (as published), duration, composition offset, sample entry (4 bytes each).
            var list: [UInt8] = []
            list.reserveCapacity((trim.last - trim.first + 1) * 16)
            for sample in trim.first...trim.last where table.count > 0 {
                let size = publishedSizes?[sample - trim.first] ?? table.sizes[sample]
                list += Bytes.put(size, 4) + Bytes.put(table.durations[sample], 4)
                    + Bytes.put(table.compositionOffset(sample) & 0xFFFF_FFFF, 4) + Bytes.put(table.descriptionIndex[sample], 4)
            }
            fields.add("samples", list)
        }
        return fields.bytes
    }

    /// The track's elst box, nil when it has none; two edit lists (which players would read differently) are refused.
    func editList(_ trak: Int) throws(MediaError) -> Int? {
        let edits = children[trak].filter { boxes[$0].type == "edts" }
        guard edits.count <= 1 else { throw fail("a track has two edit boxes (edts)") }
        guard let edts = edits.first else { return nil }
        let lists = children[edts].filter { boxes[$0].type == "elst" }
        guard lists.count <= 1 else { throw fail("a track has two edit lists (elst)") }
        return lists.first
    }

    func presentation(of heif: HEIFMeta) throws(MediaError) -> [UInt8] {
        var fields = PresentationFields()
        fields.add("primary", Bytes.put(heif.primary, 4))
        var properties: [Int] = []
        var associations: [Int: [(number: Int, essential: Bool)]] = [:]
        if let iprp = child(heif.meta, "iprp") {
            if let ipco = child(iprp, "ipco") { properties = children[ipco] }
            for ipma in children[iprp] where boxes[ipma].type == "ipma" {
                for entry in try HEIFMeta.associations(try payload(ipma)) {
                    associations[entry.id, default: []] += entry.properties
                }
            }
        }
        let kept = heif.items.filter(\.keep).sorted { $0.id < $1.id }
        for item in kept {
            // Its extents as published (shorter when metadata was removed from its data: `HEIFItemData`).
            var entry = Bytes.put(item.id, 4) + Array(item.type.utf8) + Bytes.put(item.shownExtents.count, 4)
            for extent in item.shownExtents { entry += Bytes.put(extent.count, 8) }
            fields.add("item", entry)
            for property in associations[item.id] ?? [] {
                guard property.number >= 1, property.number <= properties.count else { continue }
                let box = properties[property.number - 1]
                // Properties the sanitizer blanks (unknown, or free already) do not reach the published file.
                guard ISOSanitizer.imageProperties.contains(boxes[box].type) else { continue }
                // As published: its defined fields, a colr ICC profile rebuilt (ISOExact.heifProperty).
                let data = try payload(box, limit: 64 << 20)
                fields.add(
                    "property",
                    Array(boxes[box].type.utf8) + [property.essential ? 1 : 0]
                        + ((try? ISOExact.heifProperty(boxes[box].type, data)) ?? data))
            }
        }
        let keptIDs = Set(kept.map(\.id))
        for reference in heif.references where keptIDs.contains(reference.from) {
            let targets = reference.to.filter { keptIDs.contains($0) }
            guard !targets.isEmpty else { continue }
            fields.add("reference", reference.type + Bytes.put(reference.from, 4) + targets.flatMap { Bytes.put($0, 4) })
        }
        return fields.bytes
    }

    /// `presented_sha256` and definition 1's `content_sha256` from each stream's data digest.
    static func fingerprintValues(data digests: [[UInt8]], presentations: [[UInt8]], movie: [UInt8]) -> (
        presented: String, content: String
    ) {
        var streams: [[UInt8]] = []
        for (digest, presentation) in zip(digests, presentations) {
            var hasher = RangeHasher()
            hasher.update(Array(PresentedFingerprint.definition.utf8) + [0])
            hasher.update(digest)
            hasher.update(presentation)
            streams.append(hasher.finalizeBytes())
        }
        var outer = RangeHasher()
        outer.update(Array(PresentedFingerprint.definition.utf8) + [0])
        outer.update(movie)
        for stream in streams.sorted(by: { $0.lexicographicallyPrecedes($1) }) { outer.update(stream) }
        return (outer.finalize(), combine(digests))
    }

    /// `presented_sha256` read stream by stream (the verification of a written file; `requireClean`: every
    /// filtered sample must already be as published, `digest(of:requireClean:)`).
    func presentedSHA256(requireClean: Bool = false) throws(MediaError) -> String {
        var digests: [[UInt8]] = []
        var sizes: [[Int]?] = []
        for stream in try streams() {
            let (digest, published) = try digest(of: stream, requireClean: requireClean)
            digests.append(digest)
            sizes.append(published)
        }
        if let heif = try publishedHEIFDigest() { digests[digests.count - 1] = heif }
        return ISOMedia.fingerprintValues(
            data: digests, presentations: try presentations(publishedSizes: sizes), movie: try moviePresentation()
        ).presented
    }
}

/// Presentation fields as `PresentedFingerprint.Fields` tags them: name, 0, 8-byte length, bytes.
struct PresentationFields {
    var bytes: [UInt8] = []

    mutating func add(_ name: String, _ value: [UInt8]) {
        bytes += Array(name.utf8) + [0] + Bytes.put(value.count, 8) + value
    }
}
