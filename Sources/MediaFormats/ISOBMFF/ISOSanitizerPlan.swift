import ByteKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sanitizes ISO-BMFF files (MP4, MOV, M4V, 3GP, HEIC, HEIF, AVIF) in place of a copy, keeping every offset:
/// the output has the input's size, boxes outside the allowlist become `free` boxes with zeroed payloads,
/// capture times are zeroed, and every media-data byte that no kept track or image item uses is zeroed. A
/// HEIF meta box is rebuilt without its Exif, XMP and other non-image items and padded to its old size.
///
/// The plan is a list of patches; the copy is made by the kernel (`copy_file_range`) and the patches written
/// over it, so a video of any size passes through a fixed, small amount of memory.
public enum ISOSanitizer {
    struct Plan {
        var zeros: [Range<Int>] = []
        var patches: [(offset: Int, bytes: [UInt8])] = []
        var removed: [String] = []
        /// Tracks the rewriter cuts to the samples their edit lists need (by trak box index).
        var trims: [Int: TrimmedTrack] = [:]
    }

    /// Boxes kept under each container (a `free` or `skip` box is kept everywhere, its payload zeroed).
    /// Anything else becomes `free`.
    static let allowed: [String: Set<String>] = [
        "": ["ftyp", "moov", "mdat", "wide"],
        "moov": ["mvhd", "trak", "iods"],
        "trak": ["tkhd", "edts", "mdia", "tref", "tapt"],
        "edts": ["elst"],
        "tapt": ["clef", "prof", "enof"],
        "mdia": ["mdhd", "hdlr", "minf", "elng"],
        "minf": ["vmhd", "smhd", "hmhd", "nmhd", "sthd", "gmhd", "hdlr", "dinf", "stbl"],
        "gmhd": ["gmin"],
        "dinf": ["dref"],
        "stbl": [
            "stsd", "stts", "ctts", "cslg", "stss", "stps", "stsh", "sdtp", "stsc", "stsz", "stz2", "stco", "co64",
            "sgpd", "sbgp", "subs", "padb", "stdp", "saiz", "saio",
        ],
    ]
    static let blank: Set<String> = ["free", "skip"]
    /// HEIF item properties that describe how to decode and display a picture; others are blanked.
    static let imageProperties: Set<String> = [
        "hvcC", "av1C", "avcC", "vvcC", "lhvC", "jpgC", "uncC", "cmpd", "ispe", "pixi", "colr", "irot", "imir",
        "clap", "pasp", "auxC", "rloc", "lsel", "a1op", "a1lx", "clli", "mdcv", "cclv", "amve", "oinf", "tols",
    ]

    static func fail(_ reason: String) -> MediaError { .malformed(format: "ISO-BMFF", reason: reason) }

    /// Works out what to change. Reads box headers, sample tables and the HEIF meta box, never media data
    /// (except to compute the content fingerprint).
    static func plan(_ media: ISOMedia, maxHiddenLeadIn: Double = ISOMedia.defaultMaxHiddenLeadIn) throws(MediaError)
        -> Plan
    {
        var plan = Plan()
        let boxes = media.boxes
        guard media.tracks.contains(where: \.keep) || media.heif != nil else {
            throw MediaError.unsupported("no audio or video track to publish (only metadata, text or timecode tracks)")
        }
        if media.heif == nil {
            (plan.trims, plan.removed) = try media.trimsWithinBound(maxHiddenLeadIn)
        }
        try media.refuseHiddenPixels()
        let keptTracks = Set(media.tracks.filter(\.keep).map(\.box))
        let keptIDs = Set(media.tracks.filter(\.keep).map(\.id))
        let trackByBox = Dictionary(media.tracks.map { ($0.box, $0) }, uniquingKeysWith: { a, _ in a })

        func describe(_ index: Int) -> String { "\(boxes[index].path) at offset \(boxes[index].offset)" }
        func rawHeader(_ index: Int) throws(MediaError) -> Int {
            let box = boxes[index]
            let size = try media.source.read(box.offset..<(box.offset + 4))
            return size == [0, 0, 0, 1] ? 16 : 8
        }
        func zeroPayload(_ index: Int) throws(MediaError) {
            let box = boxes[index]
            let start = box.offset + (try rawHeader(index))
            if start < box.offset + box.size { plan.zeros.append(start..<(box.offset + box.size)) }
        }
        func free(_ index: Int, _ why: String = "") throws(MediaError) {
            plan.patches.append((boxes[index].offset + 4, Array("free".utf8)))
            try zeroPayload(index)
            plan.removed.append(describe(index) + (why.isEmpty ? "" : " (\(why))"))
        }
        func zeroTimes(_ index: Int) throws(MediaError) {
            let box = boxes[index]
            guard box.payload.count >= 20 else { throw fail("\(describe(index)) is too short") }
            let version = try media.source.read(box.payload.lowerBound..<(box.payload.lowerBound + 1))[0]
            let width = version == 1 ? 16 : 8
            guard box.payload.count >= 4 + width else { throw fail("\(describe(index)) is too short") }
            plan.patches.append((box.payload.lowerBound + 4, [UInt8](repeating: 0, count: width)))
        }
        func zeroHandlerName(_ index: Int) {
            let box = boxes[index]
            if box.payload.count > 24 {
                plan.zeros.append((box.payload.lowerBound + 24)..<box.payload.upperBound)
            }
        }
        // A kept leaf box larger than its fields: shrunk to them, the rest a free box of zeros (ISOExact).
        func exact(_ index: Int, track: ISOMedia.Track?) throws(MediaError) {
            let box = boxes[index]
            guard ISOExact.sized.contains(box.type) else { return }
            let data = try media.payload(index)
            let shape = try ISOExact.shape(
                box.type, data, handler: track?.handler ?? "", sampleCount: try media.sampleCount(track))
            for patch in shape.patches { plan.patches.append((box.payload.lowerBound + patch.at, patch.bytes)) }
            let rest = data.count - shape.defined
            guard rest > 0 else { return }
            guard rest >= 8, media.parent[index].map({ boxes[$0].type }) != "tapt" else {
                throw ISOExact.fail("\(describe(index)) has \(rest) bytes after its fields")
            }
            let header = try rawHeader(index)
            let newSize = header + shape.defined
            if header == 16 {
                plan.patches.append((box.offset + 8, Bytes.put(newSize, 8)))
            } else {
                plan.patches.append((box.offset, Bytes.put(newSize, 4)))
            }
            let start = box.payload.lowerBound + shape.defined
            plan.patches.append((start, Bytes.put(rest, 4) + Array("free".utf8)))
            if rest > 8 { plan.zeros.append((start + 8)..<box.payload.upperBound) }
            plan.removed.append("\(rest) bytes after the fields of \(describe(index))")
        }
        func clean(_ index: Int, track: ISOMedia.Track? = nil) throws(MediaError) {
            let type = boxes[index].type
            for child in media.children[index] {
                let childType = boxes[child].type
                if blank.contains(childType) {
                    try zeroPayload(child)
                    continue
                }
                guard allowed[type]?.contains(childType) ?? false else {
                    try free(child)
                    continue
                }
                switch childType {
                case "trak":
                    guard keptTracks.contains(child) else {
                        let track = trackByBox[child]
                        try free(
                            child,
                            "\(track?.handler ?? "?") track \(track?.id ?? 0)"
                                + " \(track?.sampleEntries.joined(separator: ",") ?? "")"
                                + (track?.dropReason.map { ": \($0)" } ?? ""))
                        continue
                    }
                case "tref":
                    // References to a dropped track (timecode, chapters, metadata) would dangle.
                    let data = try media.payload(child, limit: 1 << 16)
                    var at = 0
                    var dangling = false
                    while at + 8 <= data.count {
                        let size = Bytes.be(data, at, 4)
                        guard size >= 8, at + size <= data.count else {
                            dangling = true
                            break
                        }
                        for id in stride(from: at + 8, to: at + size - 3, by: 4)
                        where !keptIDs.contains(Bytes.be(data, id, 4)) {
                            dangling = true
                        }
                        at += size
                    }
                    if dangling { try free(child, "refers to a dropped track") }
                    continue
                case "elng":
                    // A language tag of the registered shape, or nothing (`ISOExact.isLanguageTag`).
                    let data = try media.payload(child, limit: 1 << 12)
                    guard data.count >= 5, ISOExact.isLanguageTag(Array(data.dropFirst(4).prefix { $0 != 0 })) else {
                        try free(child, "not a language tag")
                        continue
                    }
                case "mvhd", "tkhd", "mdhd": try zeroTimes(child)
                case "hdlr": zeroHandlerName(child)
                case "dref":
                    // Self-contained entries (checked when the tracks were read) carry no data; blank any there is.
                    let data = try media.payload(child, limit: 1 << 16)
                    var at = 8
                    while at + 12 <= data.count {
                        let size = Bytes.be(data, at, 4)
                        guard size >= 12, at + size <= data.count else { break }
                        if size > 12 {
                            let start = boxes[child].payload.lowerBound + at + 12
                            plan.zeros.append(start..<(start + size - 12))
                        }
                        at += size
                    }
                default: break
                }
                let inner = childType == "trak" ? trackByBox[child] : track
                try exact(child, track: inner)
                try clean(child, track: inner)
            }
        }

        // Top level.
        var mdats: [Range<Int>] = []
        var blanks: [Range<Int>] = []
        let firstFileType = media.roots.first { boxes[$0].type == "ftyp" }
        for root in media.roots {
            let type = boxes[root].type
            if let heif = media.heif, root == heif.meta {
                plan.patches.append(try rebuildMeta(media, heif, removed: &plan.removed))
                plan.patches += heif.publishedDataPatches()
                continue
            }
            if blank.contains(type) {
                try zeroPayload(root)
                blanks.append(boxes[root].payload)
                continue
            }
            guard allowed[""]!.contains(type) else {
                try free(root)
                blanks.append(boxes[root].payload)
                continue
            }
            if type == "moov" && media.heif != nil {
                try free(root, "a video in a HEIF picture (motion photo)")
                continue
            }
            if type == "ftyp" && root != firstFileType {
                try free(root, "a second file type box: another file appended")
                blanks.append(boxes[root].payload)
                continue
            }
            switch type {
            case "ftyp":
                // Known brands only, a zero minor version (`ISOExact.publishedFileType`).
                let data = try media.payload(root, limit: 1 << 16)
                let published = try ISOExact.publishedFileType(data)
                if published != data {
                    plan.patches.append((boxes[root].payload.lowerBound, published))
                    plan.removed.append("unknown brands or the minor version of \(describe(root))")
                }
            case "moov": try clean(root)
            case "mdat": mdats.append(boxes[root].payload)
            case "wide": try zeroPayload(root)
            default: break
            }
        }
        // Media data: keep what kept tracks and items use, zero the rest (dropped tracks' samples, removed items,
        // embedded motion-photo video, padding).
        let kept = media.keptRanges()
        mdats = mdats.filter { !$0.isEmpty }  // top-level boxes: in file order, apart
        for range in kept where Bytes.container(of: range, in: mdats) == nil {
            throw MediaError.unsupported("media data at offset \(range.lowerBound) lies outside the mdat boxes")
        }
        // The encoder or camera named in each kept video track's sample entries (dropped tracks are blanked whole).
        for track in media.tracks where track.keep { plan.zeros += track.compressorNames }
        if let trailer = media.structure.trailer {
            // A free box of zeros in its place: the output stays the same size and is whole boxes to its end.
            let header =
                trailer.count <= Int(UInt32.max)
                ? Bytes.put(trailer.count, 4) + Array("free".utf8)
                : [0, 0, 0, 1] + Array("free".utf8) + Bytes.put(trailer.count, 8)
            plan.zeros.append(trailer)
            plan.patches.append((trailer.lowerBound, header))
            plan.removed.append("Insta360 trailer at offset \(trailer.lowerBound) (\(trailer.count) bytes)")
        }
        // What is dropped must not share bytes with what is kept (a damaged or hostile table could point a picture
        // item or a video chunk at the Exif data or a metadata track's samples): refuse rather than keep them.
        // (A movie inside a HEIF picture is dropped whole with its moov; its chunk table is not consulted: an
        // appended video's offsets count from its own start, not the file's.)
        let dropped =
            (media.heif == nil ? media.tracks.filter { !$0.keep }.flatMap(\.chunks) : [])
            + (media.heif?.items.filter { !$0.keep }.flatMap(\.data) ?? [])
        let keptAnywhere = Bytes.merge(kept + (media.heif?.items.filter { $0.keep && $0.inIdat }.flatMap(\.data) ?? []))
        if let shared = Bytes.firstOverlap(dropped, keptAnywhere) {
            throw MediaError.unsupported(
                "kept media and dropped metadata or pictures overlap (share the bytes at offset \(shared)): the file cannot be cleaned safely"
            )
        }
        for mdat in mdats { plan.zeros += Bytes.subtract(kept, from: mdat) }
        if let heif = media.heif {
            // Removed items' data outside mdat must lie in boxes that are blanked anyway (or in idat, rebuilt).
            let emptied = Bytes.merge(mdats + blanks)
            for item in heif.items where !item.keep && !item.inIdat {
                for extent in item.data where !extent.isEmpty {
                    guard Bytes.container(of: extent, in: emptied) != nil else {
                        throw MediaError.unsupported(
                            "the data of HEIF item \(item.id) (\(item.type)) at offset \(extent.lowerBound) lies inside another box"
                        )
                    }
                }
            }
        }
        plan.zeros = Bytes.merge(plan.zeros)
        return plan
    }
}
