/// What an ISO-BMFF file holds once its box tree is understood: the tracks of a movie (MP4, MOV, M4V, 3GP) with
/// the byte ranges of their chunks, and the items of a HEIF image (HEIC, HEIF, AVIF) with their extents.
/// Both the sanitizer and the content fingerprint are built on it. It reads box headers and tables; media data
/// is read only to compute the fingerprint, in 1 MiB pieces.
struct ISOMedia {
    let source: FileSource
    let structure: ISOStructure
    /// Index of each box's parent in `structure.boxes`, nil for top-level boxes.
    let parent: [Int?]
    let children: [[Int]]
    let roots: [Int]
    var tracks: [Track] = []
    var heif: HEIFMeta?

    var boxes: [ISOBox] { structure.boxes }

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
    }

    /// Track handlers whose samples are pictures or sound; every other track (timed metadata, text, subtitles,
    /// timecode, hints, ...) is dropped.
    static let keptHandlers: Set<String> = ["vide", "soun"]

    /// The largest sample table or HEIF box read into memory (16 million samples in an stsz).
    static let maxTableBytes = 64 << 20

    func fail(_ reason: String) -> MediaError { .malformed(format: "ISO-BMFF", reason: reason) }

    /// `structure` is the file's box tree when the caller has walked it already.
    init(source: FileSource, structure: ISOStructure? = nil) throws(MediaError) {
        self.source = source
        let walked: ISOStructure
        if let structure { walked = structure } else { walked = try ISOStructure(source: source) }
        let structure = walked
        self.structure = structure
        var parent: [Int?] = []
        var children = [[Int]](repeating: [], count: structure.boxes.count)
        var roots: [Int] = []
        var stack: [Int] = []
        for (index, box) in structure.boxes.enumerated() {
            while stack.count > box.depth { stack.removeLast() }
            let above = stack.last
            parent.append(above)
            if let above { children[above].append(index) } else { roots.append(index) }
            stack.append(index)
        }
        self.parent = parent
        self.children = children
        self.roots = roots
        for root in roots {
            switch boxes[root].type {
            case "moof", "mfra", "styp", "sidx", "ssix":
                throw MediaError.unsupported(
                    "fragmented \(boxes[root].type) box at offset \(boxes[root].offset): fragmented movies are not supported"
                )
            case "moov":
                if let fragmented = children[root].first(where: { boxes[$0].type == "mvex" }) {
                    throw MediaError.unsupported(
                        "fragmented movie (mvex at offset \(boxes[fragmented].offset)) is not supported")
                }
                if let compressed = children[root].first(where: { boxes[$0].type == "cmov" }) {
                    throw MediaError.unsupported(
                        "compressed movie header (cmov at offset \(boxes[compressed].offset)) is not supported")
                }
                for trak in children[root] where boxes[trak].type == "trak" {
                    tracks.append(try readTrack(trak))
                }
            case "meta":
                if try handler(of: root) == "pict" {
                    guard heif == nil else { throw fail("two image (pict) meta boxes") }
                    heif = try HEIFMeta(media: self, meta: root)
                }
            default: break
            }
        }
        if heif != nil {
            // A video inside a HEIF picture is a motion photo (or a video file appended to the picture): the
            // picture is what is published, the video is dropped.
            for index in tracks.indices { tracks[index].keep = false }
        }
        guard !tracks.isEmpty || heif != nil else {
            throw MediaError.unsupported("no movie tracks and no HEIF image items: nothing to publish")
        }
        try resolveUnsizedChunks()
        try refuseOverlappingRanges()
    }

    /// Every chunk of a movie's tracks, and every extent of a HEIF's items, must cover its bytes alone. Writers lay
    /// each chunk and each item's data out once; a table that points many chunks (or items) at the same bytes would
    /// make `content_sha256` hash them again and again (a 4 MB chunk named 100,000 times is 400 GB of work), and
    /// would let a dropped track or item share bytes with a kept one. Such a file is malformed: refused.
    ///
    /// For HEIF nothing is shared legitimately either: coded images, tiles, alpha and gain maps, Exif and XMP each
    /// have their own extents; derived items (grid, iden, iovl) have none or their own few bytes in idat. (A movie
    /// inside a HEIF picture is dropped whole and its chunk table, whose offsets may count from where the video was
    /// appended, is not consulted.)
    func refuseOverlappingRanges() throws(MediaError) {
        if heif == nil, let at = Bytes.firstOverlapWithin(tracks.flatMap(\.chunks)) {
            throw fail("chunk ranges overlap (or repeat) at offset \(at)")
        }
        if let heif, let at = Bytes.firstOverlapWithin(heif.items.flatMap(\.data)) {
            throw MediaError.malformed(format: "HEIF", reason: "item data ranges overlap (or repeat) at offset \(at)")
        }
    }

    func child(_ index: Int, _ type: String) -> Int? { children[index].first { boxes[$0].type == type } }

    func path(_ index: Int, _ types: [String]) -> Int? {
        var at = index
        for type in types {
            guard let next = child(at, type) else { return nil }
            at = next
        }
        return at
    }

    func payload(_ index: Int, limit: Int = ISOMedia.maxTableBytes) throws(MediaError) -> [UInt8] {
        let box = boxes[index]
        guard box.payload.count <= limit else {
            throw MediaError.limitExceeded("\(box.path) at offset \(box.offset) is over \(limit) bytes")
        }
        return try source.read(box.payload)
    }

    /// The handler type of a meta or mdia box (its hdlr child).
    func handler(of index: Int) throws(MediaError) -> String? {
        guard let hdlr = child(index, "hdlr") else { return nil }
        let data = try payload(hdlr, limit: 1 << 16)
        guard data.count >= 12 else { throw fail("hdlr at offset \(boxes[hdlr].offset) is too short") }
        return String(decoding: data[8..<12], as: UTF8.self)
    }

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
        for stream in streams() {
            var hasher = RangeHasher()
            for range in stream { try source.hash(range, into: &hasher) }
            digests.append(hasher.finalizeBytes())
        }
        return ISOMedia.combine(digests)
    }

    /// The byte ranges of each stream `content_sha256` covers, in the order they are hashed.
    func streams() -> [[Range<Int>]] {
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
    /// file must show the size and times it had when it was opened.
    func fingerprints() throws(MediaError) -> (file: String, presented: String, content: String) {
        // The tables are read before the pass over the media, and checked unchanged after it.
        let presentations = try presentations()
        let movie = try moviePresentation()
        let streams = streams().map { $0.filter { !$0.isEmpty } }
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
            let piece = try source.read(offset..<min(source.count, offset + (1 << 20)))
            let end = offset + piece.count
            fileHasher.update(piece)
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
        // The tables were read before this pass: a writer in between would make the two disagree.
        if let change = source.changeSinceOpened() { throw .io(change) }
        let values = ISOMedia.fingerprintValues(
            data: hashers.map { $0.finalizeBytes() }, presentations: presentations, movie: movie)
        return (fileHasher.finalize(), values.presented, values.content)
    }
}

/// The items of a HEIF image's meta box: their types, where their data lies, and which are kept.
struct HEIFMeta {
    struct Item {
        var id: Int
        var type: String
        var infe: Int
        /// Byte range of its entry in the iloc box's payload.
        var ilocEntry: Range<Int>?
        /// Its data, as absolute file ranges (construction method 0, or idat resolved).
        var data: [Range<Int>] = []
        var inIdat = false
        var keep: Bool
        /// Why a picture item is dropped (a thumbnail, a depth map), for the report.
        var role: String? = nil
        var fileExtents: [Range<Int>] { inIdat ? [] : data }
    }

    /// Item references (iref): type (its four bytes), from, to.
    var references: [(type: [UInt8], from: Int, to: [Int])] = []

    /// One entry of an ipma box: the item, the entry's bytes in the payload, and its property numbers.
    struct Association {
        var id: Int
        var entry: Range<Int>
        var properties: [(number: Int, essential: Bool)]
    }

    /// The entries of an ipma box's payload (version 0: 16-bit item ids; flag 1: 16-bit property numbers).
    static func associations(_ data: [UInt8]) throws(MediaError) -> [Association] {
        func fail(_ reason: String) -> MediaError { .malformed(format: "HEIF", reason: reason) }
        guard data.count >= 8 else { throw fail("ipma is too short") }
        let idSize = data[0] < 1 ? 2 : 4
        let wide = data[3] & 1 == 1
        var at = 8
        var entries: [Association] = []
        for _ in 0..<Bytes.be(data, 4, 4) {
            guard at + idSize + 1 <= data.count else { throw fail("ipma is cut short") }
            let count = Int(data[at + idSize])
            let length = idSize + 1 + count * (wide ? 2 : 1)
            guard at + length <= data.count else { throw fail("ipma is cut short") }
            let properties = (0..<count).map { index -> (number: Int, essential: Bool) in
                let value = wide ? Bytes.be(data, at + idSize + 1 + index * 2, 2) : Int(data[at + idSize + 1 + index])
                return (value & (wide ? 0x7FFF : 0x7F), value & (wide ? 0x8000 : 0x80) != 0)
            }
            entries.append(
                Association(id: Bytes.be(data, at, idSize), entry: at..<(at + length), properties: properties))
            at += length
        }
        return entries
    }

    /// Item types that are pictures (coded images, derived images, tiles, gain maps); Exif, XMP (mime), uri and
    /// anything unknown is removed.
    static let imageTypes: Set<String> = [
        "hvc1", "hev1", "av01", "grid", "iovl", "iden", "jpeg", "j2k1", "hvt1", "lhv1", "tmap", "unci", "avc1", "vvc1",
    ]

    let meta: Int
    var items: [Item] = []
    var primary: Int = 0
    var idat: Int?

    init(media: ISOMedia, meta: Int) throws(MediaError) {
        self.meta = meta
        let boxes = media.boxes
        func fail(_ reason: String) -> MediaError { .malformed(format: "HEIF", reason: reason) }
        // One of each: a second iloc, iinf or idat would be read by some decoders and not by others.
        var seen: Set<String> = []
        for child in media.children[meta] where !["free", "skip"].contains(boxes[child].type) {
            guard seen.insert(boxes[child].type).inserted else {
                throw fail(
                    "two \(boxes[child].type) boxes in the meta box (the second at offset \(boxes[child].offset))")
            }
        }
        guard let iinf = media.child(meta, "iinf") else { throw fail("no item information (iinf)") }
        guard let iloc = media.child(meta, "iloc") else { throw fail("no item locations (iloc)") }
        guard let pitm = media.child(meta, "pitm") else { throw fail("no primary item (pitm)") }
        idat = media.child(meta, "idat")
        let primaryData = try media.payload(pitm, limit: 64)
        guard primaryData.count >= 6 else { throw fail("pitm is too short") }
        primary = primaryData[0] == 0 ? Bytes.be(primaryData, 4, 2) : Bytes.be(primaryData, 4, 4)
        // Item ID -> position in `items` (a dictionary: a hostile file may describe many thousands).
        var index: [Int: Int] = [:]
        for infe in media.children[iinf] where boxes[infe].type == "infe" {
            let data = try media.payload(infe, limit: 1 << 16)
            guard data.count >= 8 else { throw fail("infe at offset \(boxes[infe].offset) is too short") }
            let version = data[0]
            var id = 0
            var type = "mime"
            if version >= 2 {
                let idSize = version == 2 ? 2 : 4
                guard data.count >= 4 + idSize + 2 + 4 else {
                    throw fail("infe at offset \(boxes[infe].offset) is too short")
                }
                id = Bytes.be(data, 4, idSize)
                type = String(decoding: data[(4 + idSize + 2)..<(4 + idSize + 6)], as: UTF8.self)
            } else {
                id = Bytes.be(data, 4, 2)
            }
            guard index[id] == nil else { throw fail("item \(id) is described twice") }
            index[id] = items.count
            items.append(Item(id: id, type: type, infe: infe, keep: HEIFMeta.imageTypes.contains(type)))
        }
        guard let primaryIndex = index[primary] else {
            throw fail("the primary item \(primary) is not described")
        }
        guard items[primaryIndex].keep else {
            throw MediaError.unsupported("HEIF primary item is of type \(items[primaryIndex].type), not a picture")
        }
        // Item locations.
        let data = try media.payload(iloc)
        guard data.count >= 8 else { throw fail("iloc is too short") }
        let version = data[0]
        guard version <= 2 else { throw fail("iloc version \(version) is unknown") }
        let offsetSize = Int(data[4] >> 4)
        let lengthSize = Int(data[4] & 0x0F)
        let baseSize = Int(data[5] >> 4)
        let indexSize = version >= 1 ? Int(data[5] & 0x0F) : 0
        for size in [offsetSize, lengthSize, baseSize, indexSize] where ![0, 4, 8].contains(size) {
            throw fail("iloc field size \(size) is not 0, 4 or 8")
        }
        var at = 6
        func take(_ width: Int) throws(MediaError) -> Int {
            guard at + width <= data.count else { throw fail("iloc is cut short") }
            defer { at += width }
            return Bytes.be(data, at, width)
        }
        let count = try take(version < 2 ? 2 : 4)
        let idatPayload = idat.map { boxes[$0].payload }
        // With zero-width offset and length fields an extent takes no bytes of the table, so a few bytes could
        // declare billions of them; no more extents than the table has bytes.
        var extentBudget = data.count
        for _ in 0..<count {
            let start = at
            let id = try take(version < 2 ? 2 : 4)
            let method = version >= 1 ? try take(2) & 0x0F : 0
            let reference = try take(2)
            let base = try take(baseSize)
            let extents = try take(2)
            guard extents <= extentBudget else { throw fail("iloc lists more extents than it has bytes") }
            extentBudget -= extents
            // Length 0 means "to the end of the file (or idat)".
            var pieces: [(offset: Int, length: Int)] = []
            for _ in 0..<extents {
                _ = try take(indexSize)
                let offset = try take(offsetSize)
                pieces.append((offset, try take(lengthSize)))
            }
            guard let index = index[id] else {
                // A location without a description: its data is unreferenced and is blanked with the rest of the mdat.
                continue
            }
            items[index].ilocEntry = start..<at
            guard reference == 0 else {
                if items[index].keep {
                    throw MediaError.unsupported("HEIF item \(id) has its data in another file")
                }
                continue
            }
            var resolved: [Range<Int>] = []
            for piece in pieces {
                guard base >= 0, piece.offset >= 0, piece.length >= 0, base <= Int.max / 4, piece.offset <= Int.max / 4,
                    piece.length <= Int.max / 4
                else { throw fail("item \(id) has an impossible location") }
                let begin = base + piece.offset
                switch method {
                case 0:
                    let end = piece.length == 0 ? media.source.count : begin + piece.length
                    guard end >= begin, end <= media.source.count else {
                        throw fail("item \(id) lies outside the file")
                    }
                    resolved.append(begin..<end)
                case 1:
                    guard let idatPayload else { throw fail("item \(id) is in an idat box that is missing") }
                    let end = piece.length == 0 ? idatPayload.count : begin + piece.length
                    guard end >= begin, end <= idatPayload.count else {
                        throw fail("item \(id) lies outside its idat box")
                    }
                    resolved.append((idatPayload.lowerBound + begin)..<(idatPayload.lowerBound + end))
                    items[index].inIdat = true
                default:
                    throw MediaError.unsupported(
                        "HEIF item \(id) is built from other items (construction method \(method))")
                }
            }
            items[index].data = resolved
        }
        try dropThumbnailsAndDepth(media, index: index)
        // Every kept picture has data, but an identity-derived one (iden), which is only its references.
        if let item = items.first(where: { $0.keep && $0.ilocEntry == nil && $0.type != "iden" }) {
            throw fail("item \(item.id) (\(item.type)) has no location")
        }
    }
}

extension HEIFMeta {
    /// Thumbnails (a `thmb` reference) and depth or disparity maps (an auxC property naming depth) are pictures
    /// but not the picture: a thumbnail may still show what an edit cropped away, and a depth map is not needed
    /// to display anything. They are dropped, with the tiles and auxiliary images that only they use. Alpha
    /// planes and HDR gain maps stay (they change how the picture looks).
    mutating func dropThumbnailsAndDepth(_ media: ISOMedia, index: [Int: Int]) throws(MediaError) {
        func fail(_ reason: String) -> MediaError { .malformed(format: "HEIF", reason: reason) }
        if let iref = media.child(meta, "iref") {
            let data = try media.payload(iref, limit: 64 << 20)
            guard data.count >= 4 else { throw fail("iref is too short") }
            let idSize = data[0] == 0 ? 2 : 4
            var at = 4
            while at + 8 <= data.count {
                let size = Bytes.be(data, at, 4)
                guard size >= 8 + idSize + 2, at + size <= data.count else { throw fail("iref entry is malformed") }
                let type = Array(data[(at + 4)..<(at + 8)])
                let from = Bytes.be(data, at + 8, idSize)
                let count = Bytes.be(data, at + 8 + idSize, 2)
                guard 8 + idSize + 2 + count * idSize <= size else { throw fail("iref entry is cut short") }
                references.append(
                    (type, from, (0..<count).map { Bytes.be(data, at + 8 + idSize + 2 + $0 * idSize, idSize) }))
                at += size
            }
        }
        func drop(_ id: Int, _ role: String) {
            guard id != primary, let position = index[id], items[position].keep else { return }
            items[position].keep = false
            items[position].role = role
        }
        let thmb = Array("thmb".utf8)
        let dimg = Array("dimg".utf8)
        let auxl = Array("auxl".utf8)
        for reference in references where reference.type == thmb { drop(reference.from, "thumbnail") }
        // Depth and disparity maps, by their auxC property.
        if let iprp = media.child(meta, "iprp"), let ipco = media.child(iprp, "ipco") {
            let properties = media.children[ipco]
            var depth: Set<Int> = []
            for (number, property) in properties.enumerated() where media.boxes[property].type == "auxC" {
                let text = String(decoding: try media.payload(property, limit: 1 << 16), as: UTF8.self).lowercased()
                if text.contains("depth") || text.contains("disparity") { depth.insert(number + 1) }
            }
            for ipma in media.children[iprp] where media.boxes[ipma].type == "ipma" && !depth.isEmpty {
                for entry in try HEIFMeta.associations(try media.payload(ipma, limit: 64 << 20))
                where entry.properties.contains(where: { depth.contains($0.number) }) {
                    drop(entry.id, "depth map")
                }
            }
        }
        dropPartsOfDroppedPictures(index: index)
    }

    /// Tiles (dimg) and auxiliary images (auxl) used only by dropped pictures go with them, transitively. Each
    /// reference is looked at a bounded number of times, so a hostile iref costs what its bytes cost.
    mutating func dropPartsOfDroppedPictures(index: [Int: Int]) {
        let dimg = Array("dimg".utf8)
        let auxl = Array("auxl".utf8)
        // For each item, the described pictures that use it; for each picture, the items it uses.
        var owners: [Int: Set<Int>] = [:]
        var parts: [Int: Set<Int>] = [:]
        func use(_ owner: Int, _ part: Int) {
            owners[part, default: []].insert(owner)
            if index[owner] != nil { parts[owner, default: []].insert(part) }
        }
        for reference in references {
            if reference.type == dimg {
                for part in reference.to { use(reference.from, part) }
            } else if reference.type == auxl {
                for owner in reference.to { use(owner, reference.from) }
            }
        }
        // How many of each part's owners are described and not yet known to be dropped.
        var keptOwners = owners.mapValues { $0.filter { index[$0] != nil }.count }
        var work: [Int] = []
        func drop(_ part: Int, because owner: Int?) {
            guard part != primary, let position = index[part], items[position].keep else { return }
            let role = owner.flatMap { index[$0] }.flatMap { items[$0].role } ?? "part of a dropped picture"
            items[position].keep = false
            items[position].role = role.hasSuffix("part") ? role : role + " part"
            work.append(part)
        }
        work = items.filter { !$0.keep }.map(\.id)
        // Parts whose every owner is undescribed are used by nothing that is shown.
        for (part, count) in keptOwners where count == 0 { drop(part, because: nil) }
        while let owner = work.popLast() {
            for part in parts[owner] ?? [] {
                guard let left = keptOwners[part], left > 0 else { continue }
                keptOwners[part] = left - 1
                if left == 1 { drop(part, because: owner) }
            }
        }
    }
}

/// Big-endian integers and range arithmetic.
enum Bytes {
    static func be(_ bytes: [UInt8], _ at: Int, _ width: Int) -> Int {
        guard width > 0, at >= 0, at + width <= bytes.count else { return 0 }
        var value = 0
        for index in at..<(at + width) { value = value << 8 | Int(bytes[index]) }
        return value
    }

    static func put(_ value: Int, _ width: Int) -> [UInt8] {
        (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    /// Sorted, overlapping and touching ranges joined, empty ones dropped.
    static func merge(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for range in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// The first offset where a range of `ranges` meets one of `sorted` (sorted and merged), if any.
    static func firstOverlap(_ ranges: [Range<Int>], _ sorted: [Range<Int>]) -> Int? {
        var first: Int? = nil
        for range in ranges where !range.isEmpty {
            // The last kept range starting before this one ends.
            var low = 0
            var high = sorted.count
            while low < high {
                let mid = (low + high) / 2
                if sorted[mid].lowerBound < range.upperBound { low = mid + 1 } else { high = mid }
            }
            if low > 0, sorted[low - 1].upperBound > range.lowerBound {
                let at = max(range.lowerBound, sorted[low - 1].lowerBound)
                first = min(first ?? at, at)
            }
        }
        return first
    }

    /// The parts of `whole` outside every range of `kept` (sorted and merged). Looks only at the ranges of `kept`
    /// that meet `whole` (found by binary search), so subtracting from many boxes costs no more than their count.
    static func subtract(_ kept: [Range<Int>], from whole: Range<Int>) -> [Range<Int>] {
        var gaps: [Range<Int>] = []
        var at = whole.lowerBound
        var index = firstEnding(after: whole.lowerBound, in: kept)
        while index < kept.count, kept[index].lowerBound < whole.upperBound {
            let range = kept[index]
            if range.lowerBound > at { gaps.append(at..<range.lowerBound) }
            at = max(at, range.upperBound)
            index += 1
        }
        if at < whole.upperBound { gaps.append(at..<whole.upperBound) }
        return gaps
    }

    /// The index of the first range of `sorted` (sorted and merged) that ends after `offset`.
    static func firstEnding(after offset: Int, in sorted: [Range<Int>]) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid].upperBound <= offset { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The range of `sorted` (sorted and merged) that holds all of `range`, if one does.
    static func container(of range: Range<Int>, in sorted: [Range<Int>]) -> Range<Int>? {
        let index = firstEnding(after: range.lowerBound, in: sorted)
        guard index < sorted.count, sorted[index].lowerBound <= range.lowerBound,
            range.upperBound <= sorted[index].upperBound
        else { return nil }
        return sorted[index]
    }

    /// The first offset at which two of `ranges` (empty ones aside) share a byte, if any.
    static func firstOverlapWithin(_ ranges: [Range<Int>]) -> Int? {
        let sorted = ranges.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        var reach = Int.min
        for range in sorted {
            if range.lowerBound < reach { return range.lowerBound }
            reach = max(reach, range.upperBound)
        }
        return nil
    }
}
