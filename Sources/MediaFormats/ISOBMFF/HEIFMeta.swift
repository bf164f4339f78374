import ByteKit

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
        /// Its data as published when that differs from the file's (metadata NAL units removed: `HEIFItemData`),
        /// and where it is written: the first bytes of its old extents, in order.
        var published: [UInt8]? = nil
        var publishedExtents: [Range<Int>]? = nil
        /// Where its published data lies, in the file or in idat.
        var shownExtents: [Range<Int>] { publishedExtents ?? data }
        var fileExtents: [Range<Int>] { inIdat ? [] : shownExtents }
    }

    /// iloc's version and field sizes (bytes), to rebuild an entry whose extents shrank.
    var ilocLayout: (version: Int, offset: Int, length: Int, base: Int, index: Int) = (0, 0, 0, 0, 0)

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
        ilocLayout = (Int(version), offsetSize, lengthSize, baseSize, indexSize)
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
        try keepPrimaryAndWhatItNeeds(media, index: index)
        try publishItemData(media)
        // Every kept picture has data, but an identity-derived one (iden), which is only its references.
        if let item = items.first(where: { $0.keep && $0.ilocEntry == nil && $0.type != "iden" }) {
            throw fail("item \(item.id) (\(item.type)) has no location")
        }
    }
}
