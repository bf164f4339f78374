/// Small ISO-BMFF files built byte by byte, so tests can give them any sample table or item location, including
/// ones no encoder writes. The media bytes are not decodable; the structure is complete.
enum SyntheticISO {
    /// A change made to one box while building (the first box of that type).
    enum Edit {
        case none
        /// Cut the box's payload to this many bytes.
        case truncate(String, Int)
        /// Replace the 32-bit count of a sample table (stco, stsc, stsd: after version and flags; stsz: after the
        /// constant size).
        case count(String, Int)
        /// Write the box twice.
        case duplicate(String)
        /// Append these bytes to the box's payload (a box larger than its fields).
        case append(String, [UInt8])
    }

    static func be(_ value: Int, _ width: Int) -> [UInt8] {
        (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    static func box(_ type: String, _ payload: [UInt8], _ edit: Edit = .none) -> [UInt8] {
        var payload = payload
        switch edit {
        case .truncate(let target, let keep) where target == type: payload = Array(payload.prefix(keep))
        case .append(let target, let extra) where target == type: payload += extra
        case .count(let target, let count) where target == type:
            let at = type == "stsz" ? 8 : 4
            if payload.count >= at + 4 { payload.replaceSubrange(at..<(at + 4), with: be(count, 4)) }
        default: break
        }
        let once = be(payload.count + 8, 4) + Array(type.utf8) + payload
        if case .duplicate(let target) = edit, target == type { return once + once }
        return once
    }

    static func full(_ type: String, _ payload: [UInt8], version: UInt8 = 0, flags: UInt8 = 0, _ edit: Edit = .none)
        -> [UInt8]
    {
        box(type, [version, 0, 0, flags] + payload, edit)
    }

    static func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }
}

/// A movie: ftyp, mdat, then moov with one trak per track (constant sample sizes, a single stsc run).
enum SyntheticMovie {
    struct Track {
        var handler = "vide"
        /// Chunk offsets, counted from the start of the mdat payload.
        var chunks: [Int]
        var sampleSize: Int
        var samplesPerChunk = 1
        /// The visual sample entry's compressor name (video tracks).
        var compressorName = ""
        /// Child boxes of the sample entry (avcC, btrt, uuid...).
        var entryChildren: [UInt8] = []
        /// A whole sample entry in place of the default one (`visualEntry`, `audioEntry`).
        var entry: [UInt8]? = nil
    }

    static let fileType = SyntheticISO.box("ftyp", Array("isom".utf8) + [0, 0, 2, 0] + Array("isommp41".utf8))

    /// Where the mdat payload starts in every synthetic movie.
    static var mediaOffset: Int { fileType.count + 8 }

    /// A VisualSampleEntry (86 bytes) with the given compressor name as a Pascal string in its 32-byte field. Its
    /// format is `mp4v` by default: the synthetic samples are not NAL units, and an `avc1` sample goes through the
    /// SEI filter (`ISOSampleFilter`), which refuses what it cannot split.
    static func visualEntry(compressorName: String, children: [UInt8] = [], format: String = "mp4v") -> [UInt8] {
        let name = Array(compressorName.utf8.prefix(31))
        let payload =
            SyntheticISO.zeros(6) + [0, 1] + SyntheticISO.zeros(16) + [0, 64, 0, 64] + [0, 0x48, 0, 0, 0, 0x48, 0, 0]
            + SyntheticISO.zeros(4) + [0, 1] + [UInt8(name.count)] + name + SyntheticISO.zeros(31 - name.count)
            + [0, 0x18, 0xFF, 0xFF] + children
        return SyntheticISO.box(format, payload)
    }

    static let audioEntry = SyntheticISO.box(
        "mp4a", SyntheticISO.zeros(6) + [0, 1] + SyntheticISO.zeros(8) + [0, 2, 0, 16, 0, 0, 0, 0, 0xAC, 0x44, 0, 0])

    static func movie(
        media: [UInt8], tracks: [Track], truncating type: String? = nil, to keep: Int = 0,
        count countType: String? = nil,
        as count: Int = 0, edit given: SyntheticISO.Edit = .none
    ) -> [UInt8] {
        typealias I = SyntheticISO
        var edit = given
        if let type { edit = .truncate(type, keep) }
        if let countType { edit = .count(countType, count) }
        var traks: [UInt8] = []
        for (index, track) in tracks.enumerated() {
            let samples = track.chunks.count * track.samplesPerChunk
            let standard =
                track.handler == "vide"
                ? visualEntry(compressorName: track.compressorName, children: track.entryChildren) : audioEntry
            let entry = track.entry ?? standard
            let stbl = I.box(
                "stbl",
                I.full("stsd", I.be(1, 4) + entry, edit)
                    + I.full("stts", I.be(1, 4) + I.be(samples, 4) + I.be(1, 4), edit)
                    + I.full("stsc", I.be(1, 4) + I.be(1, 4) + I.be(track.samplesPerChunk, 4) + I.be(1, 4), edit)
                    + I.full("stsz", I.be(track.sampleSize, 4) + I.be(samples, 4), edit)
                    + I.full(
                        "stco", I.be(track.chunks.count, 4) + track.chunks.flatMap { I.be(mediaOffset + $0, 4) }, edit),
                edit)
            let header =
                track.handler == "vide" ? I.full("vmhd", I.zeros(8), flags: 1, edit) : I.full("smhd", I.zeros(4), edit)
            let dinf = I.box("dinf", I.full("dref", I.be(1, 4) + I.full("url ", [], flags: 1), edit), edit)
            let mdia = I.box(
                "mdia",
                I.full("mdhd", I.zeros(8) + I.be(1000, 4) + I.zeros(8), edit)
                    + I.full("hdlr", I.zeros(4) + Array(track.handler.utf8) + I.zeros(12) + [0], edit)
                    + I.box("minf", header + dinf + stbl, edit), edit)
            let tkhd = I.full("tkhd", I.zeros(8) + I.be(index + 1, 4) + I.zeros(68), flags: 3, edit)
            let edts = I.box(
                "edts", I.full("elst", I.be(1, 4) + I.be(1000, 4) + I.zeros(4) + [0, 1, 0, 0], edit), edit)
            traks += I.box("trak", tkhd + edts + mdia, edit)
        }
        let moov = I.box("moov", I.full("mvhd", I.zeros(8) + I.be(1000, 4) + I.zeros(84), edit) + traks, edit)
        return fileType + I.box("mdat", media) + moov
    }
}

/// A HEIF image: ftyp, meta (hdlr pict, pitm, iloc version 1, iinf, iprp with an ipco, empty unless `properties`
/// are given, and an ipma), mdat.
/// Item 1 is the primary item.
enum SyntheticHEIF {
    typealias Item = (id: Int, type: String, extents: [(offset: Int, length: Int)])

    static let fileType = SyntheticISO.box("ftyp", Array("heic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8))

    /// `zeroWidthExtents` adds that many extents with zero-width offset and length fields to the first item (an
    /// iloc whose base offset and length sizes are 0 besides, so they take no bytes). Extents are counted from the
    /// start of the mdat payload.
    static func file(
        data: [UInt8], items: [Item], zeroWidthExtents: Int = 0, truncating type: String? = nil, to keep: Int = 0,
        duplicating duplicate: String? = nil, properties: [[UInt8]] = []
    ) -> [UInt8] {
        typealias I = SyntheticISO
        var edit = I.Edit.none
        if let type { edit = .truncate(type, keep) }
        if let duplicate { edit = .duplicate(duplicate) }
        func meta(mediaOffset: Int) -> [UInt8] {
            let hdlr = I.full("hdlr", I.zeros(4) + Array("pict".utf8) + I.zeros(12) + [0], edit)
            let pitm = I.full("pitm", I.be(1, 2), edit)
            var iloc: [UInt8]
            if zeroWidthExtents > 0 {
                // Offset, length and base offset sizes all 0: each extent is zero bytes of the table.
                iloc = [0x00, 0x00] + I.be(1, 2) + I.be(items[0].id, 2) + I.be(0, 2) + I.be(0, 2)
                iloc += I.be(zeroWidthExtents, 2)
            } else {
                iloc = [0x44, 0x00] + I.be(items.count, 2)
                for item in items {
                    iloc += I.be(item.id, 2) + I.be(0, 2) + I.be(0, 2) + I.be(item.extents.count, 2)
                    for extent in item.extents { iloc += I.be(mediaOffset + extent.offset, 4) + I.be(extent.length, 4) }
                }
            }
            let infes = items.map { item in
                I.full("infe", I.be(item.id, 2) + I.zeros(2) + Array(item.type.utf8) + [0], version: 2, edit)
            }
            let iinf = I.full("iinf", I.be(items.count, 2) + infes.flatMap { $0 }, edit)
            // `properties` (whole boxes) all belong to item 1, in order, none essential.
            let associations =
                properties.isEmpty
                ? I.be(0, 4) : I.be(1, 4) + I.be(1, 2) + [UInt8(properties.count)] + (1...properties.count).map { UInt8($0) }
            let ipma = I.full("ipma", associations, edit)
            let iprp = I.box("iprp", I.box("ipco", properties.flatMap { $0 }) + ipma, edit)
            var children = hdlr + pitm + I.full("iloc", iloc, version: 1, edit) + iinf + iprp
            if case .duplicate(let target) = edit, ["iref", "idat"].contains(target) {
                children += I.box(target, target == "iref" ? I.zeros(4) : I.zeros(8), edit)
            }
            if case .truncate("iref", _) = edit {
                children += I.full(
                    "iref", I.be(12, 4) + Array("thmb".utf8) + I.be(2, 2) + I.be(1, 2) + I.be(1, 2), edit)
            }
            return I.full("meta", children)
        }
        // The meta box's size does not depend on the offsets it holds: build it once to learn where mdat starts.
        let offset = fileType.count + meta(mediaOffset: 0).count + 8
        return fileType + meta(mediaOffset: offset) + I.box("mdat", data)
    }
}
