import ByteKit

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
        var mvex: Int? = nil
        for root in roots {
            switch boxes[root].type {
            case "moov":
                // A fragmented movie: its samples are read from the moof boxes below (ISOFragments.swift).
                mvex = children[root].first(where: { boxes[$0].type == "mvex" }) ?? mvex
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
        if mvex != nil || roots.contains(where: { boxes[$0].type == "moof" }) {
            guard heif == nil else { throw MediaError.unsupported("a fragmented movie inside a HEIF picture is not supported") }
            try readFragments(mvex: mvex)
        }
        if heif != nil {
            // A video inside a HEIF picture is a motion photo (or a video file appended to the picture): the
            // picture is what is published, the video is dropped.
            for index in tracks.indices { tracks[index].keep = false }
        } else {
            try keepPresentedTracks()
            try fragmentEditLists()
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
}
