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
    static func plan(_ media: ISOMedia) throws(MediaError) -> Plan {
        var plan = Plan()
        let boxes = media.boxes
        guard media.tracks.contains(where: \.keep) || media.heif != nil else {
            throw MediaError.unsupported("no audio or video track to publish (only metadata, text or timecode tracks)")
        }
        try media.refuseHiddenMedia()
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
                                + " \(track?.sampleEntries.joined(separator: ",") ?? "")")
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
                "kept media and dropped metadata share the bytes at offset \(shared): the file cannot be cleaned safely"
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

    static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        Bytes.put(payload.count + 8, 4) + Array(type.utf8) + payload
    }

    /// The HEIF meta box without its non-image items, padded with a `free` box to its old size. Returns the
    /// patch for the meta's children (its header and version stay).
    static func rebuildMeta(_ media: ISOMedia, _ heif: HEIFMeta, removed: inout [String]) throws(MediaError) -> (
        offset: Int, bytes: [UInt8]
    ) {
        let boxes = media.boxes
        let meta = boxes[heif.meta]
        let keptIDs = Set(heif.items.filter(\.keep).map(\.id))
        for item in heif.items where !item.keep {
            let what = item.role.map { "\(item.type) \($0)" } ?? (item.type == "mime" ? "XMP or other mime" : item.type)
            removed.append("HEIF item \(item.id) (\(what))")
        }
        var children: [UInt8] = []
        for child in media.children[heif.meta] {
            let type = boxes[child].type
            let data = try media.payload(child, limit: 64 << 20)
            switch type {
            case "hdlr":
                var copy = data
                if copy.count > 24 { for index in 24..<copy.count { copy[index] = 0 } }
                children += box(type, copy)
            case "pitm":
                // Version, flags and the item ID: nothing after them.
                guard data.count >= 6 else { throw fail("pitm is too short") }
                children += box(type, Array(data[0..<(data[0] == 0 ? 6 : 8)]))
            case "dinf":
                // Rebuilt as one self-contained data reference (items in other files are refused when read).
                children += box("dinf", box("dref", [0, 0, 0, 0] + Bytes.put(1, 4) + box("url ", [0, 0, 0, 1])))
            case "iinf":
                var payload = Array(data[0..<4])
                let kept = heif.items.filter(\.keep)
                payload += Bytes.put(kept.count, data[0] == 0 ? 2 : 4)
                for item in kept {
                    var entry = try media.payload(item.infe, limit: 1 << 16)
                    // The item name follows the type; blank it in place (it may be a title), keeping the size.
                    let idSize = entry[0] == 2 ? 2 : 4
                    let nameAt = 4 + idSize + 2 + 4
                    if nameAt < entry.count { for index in nameAt..<entry.count { entry[index] = 0 } }
                    payload += box("infe", entry)
                }
                children += box(type, payload)
            case "iloc":
                let version = data[0]
                var payload = Array(data[0..<6])
                let kept = heif.items.filter { $0.keep && $0.ilocEntry != nil }
                payload += Bytes.put(kept.count, version < 2 ? 2 : 4)
                for item in kept { payload += Array(data[item.ilocEntry!]) }
                children += box(type, payload)
            case "iref":
                // From the references already read, without those from or to a removed item.
                let idSize = data[0] == 0 ? 2 : 4
                var payload = Array(data[0..<4])
                for reference in heif.references where keptIDs.contains(reference.from) {
                    let targets = reference.to.filter { keptIDs.contains($0) }
                    guard !targets.isEmpty else { continue }
                    var entry = reference.type + Bytes.put(reference.from, idSize) + Bytes.put(targets.count, 2)
                    for target in targets { entry += Bytes.put(target, idSize) }
                    payload += Bytes.put(entry.count + 4, 4) + entry
                }
                if payload.count > 4 { children += box(type, payload) }
            case "iprp":
                children += box(type, try rebuildProperties(media, child, keptIDs: keptIDs, removed: &removed))
            case "idat":
                var copy = data
                let base = boxes[child].payload.lowerBound
                for item in heif.items where !item.keep && item.inIdat {
                    for extent in item.data {
                        for index in (extent.lowerBound - base)..<(extent.upperBound - base) { copy[index] = 0 }
                    }
                }
                children += box(type, copy)
            case "ipro":
                throw MediaError.unsupported("HEIF items are protected (ipro): they cannot be checked")
            default:
                removed.append("\(boxes[child].path) at offset \(boxes[child].offset)")
            }
        }
        let room = meta.payload.count - 4
        let pad = room - children.count
        guard pad == 0 || pad >= 8 else {
            throw MediaError.unsupported("the cleaned HEIF meta box cannot be padded to its old size (\(pad) bytes)")
        }
        if pad > 0 { children += Bytes.put(pad, 4) + Array("free".utf8) + [UInt8](repeating: 0, count: pad - 8) }
        return (meta.payload.lowerBound + 4, children)
    }

    /// ipco with unknown properties turned into `free` boxes of the same size (their indices stay), and ipma
    /// with only the kept items' associations.
    static func rebuildProperties(_ media: ISOMedia, _ iprp: Int, keptIDs: Set<Int>, removed: inout [String])
        throws(MediaError) -> [UInt8]
    {
        let boxes = media.boxes
        var payload: [UInt8] = []
        var blanked: Set<Int> = []
        guard let ipco = media.child(iprp, "ipco") else { throw fail("HEIF iprp has no ipco") }
        var properties: [UInt8] = []
        for (number, property) in media.children[ipco].enumerated() {
            let type = boxes[property].type
            let data = try media.payload(property, limit: 64 << 20)
            if imageProperties.contains(type) {
                // Its defined fields only; a colr ICC profile as published (ISOExact.heifProperty).
                let published = try ISOExact.heifProperty(type, data)
                if published.count < data.count {
                    removed.append("\(data.count - published.count) bytes after the fields of HEIF property \(type)")
                }
                properties += box(type, published)
            } else {
                blanked.insert(number + 1)
                if !blank.contains(type) { removed.append("HEIF property \(type) at offset \(boxes[property].offset)") }
                properties += box("free", [UInt8](repeating: 0, count: data.count))
            }
        }
        for child in media.children[iprp] {
            let type = boxes[child].type
            if type == "ipco" {
                payload += box("ipco", properties)
                continue
            }
            guard type == "ipma" else {
                removed.append("\(boxes[child].path) at offset \(boxes[child].offset)")
                continue
            }
            let data = try media.payload(child, limit: 64 << 20)
            var entries: [UInt8] = []
            var count = 0
            for association in try HEIFMeta.associations(data) where keptIDs.contains(association.id) {
                if let unknown = association.properties.first(where: { $0.essential && blanked.contains($0.number) }) {
                    throw MediaError.unsupported(
                        "HEIF item \(association.id) needs a property ConsentGate does not know (number \(unknown.number))"
                    )
                }
                entries += Array(data[association.entry])
                count += 1
            }
            payload += box("ipma", Array(data[0..<4]) + Bytes.put(count, 4) + entries)
        }
        return payload
    }

    // MARK: - Writing

    /// Copies `source` to a new temporary file beside `finalPath` and writes the plan over it (zero ranges,
    /// then patches). Nothing appears under `finalPath` until the caller verifies and commits.
    static func write(_ plan: Plan, from source: FileSource, to finalPath: String) throws(MediaError)
        -> FileIO.PendingFile
    {
        try FileIO.copyPending(source, finalPath: finalPath) { (fd) throws(MediaError) in
            let zeros = [UInt8](repeating: 0, count: 1 << 20)
            for range in plan.zeros {
                var at = range.lowerBound
                while at < range.upperBound {
                    let count = min(zeros.count, range.upperBound - at)
                    try FileIO.writeAll(fd, zeros, count, at: at)
                    at += count
                }
            }
            for patch in plan.patches { try FileIO.writeAll(fd, patch.bytes, patch.bytes.count, at: patch.offset) }
        }
    }

    // MARK: - Verification

    /// Re-reads a written file as a fresh input and requires: the same size; the same content fingerprint;
    /// nothing the inspector reports as metadata; only allowlisted boxes; zero bytes in every `free`/`skip` box
    /// and in every media-data byte that no track or item uses; no track or item that would have been dropped.
    static func verify(path: String, size: Int, expectedContent: String) throws(MediaError) {
        func failed(_ why: String) -> MediaError { .verificationFailed("the written file " + why) }
        let source = try FileSource(path: path)
        guard source.count == size else { throw failed("has a different size") }
        let media = try ISOMedia(source: source)
        guard media.tracks.allSatisfy(\.keep) else { throw failed("still holds a metadata or text track") }
        guard media.heif?.items.allSatisfy(\.keep) ?? true else { throw failed("still holds a non-image item") }
        var report = InspectReport(format: .mp4, bytes: size, fileSHA256: "")
        try ISOInspector.inspect(source, media.structure, into: &report)
        if let first = report.metadata.first {
            throw failed("still holds metadata: \(first.family) \(first.name) at offset \(first.offset ?? 0)")
        }
        let boxes = media.boxes
        var mustBeZero: [Range<Int>] = []
        for (index, box) in boxes.enumerated() {
            let parentType = media.parent[index].map { boxes[$0].type } ?? ""
            if blank.contains(box.type) || box.type == "wide" {
                mustBeZero.append(box.payload)
                continue
            }
            if let heif = media.heif, index == heif.meta || media.parent[index] == heif.meta {
                if box.type == "pitm" || box.type == "dinf" {
                    let data = try media.payload(index, limit: 1 << 16)
                    let exact =
                        box.type == "pitm"
                        ? data.count == (data.first == 0 ? 6 : 8)
                        : data == ISOSanitizer.box("dref", [0, 0, 0, 0] + Bytes.put(1, 4) + ISOSanitizer.box("url ", [0, 0, 0, 1]))
                    guard exact else { throw failed("holds a HEIF \(box.type) that is not its defined size") }
                }
                continue
            }
            if let kept = allowed[parentType], !kept.contains(box.type) {
                throw failed("holds \(box.path) at offset \(box.offset), which is not on the allowlist")
            }
            if let heif = media.heif, let ipco = media.parent[index], boxes[ipco].type == "ipco",
                media.parent[ipco].flatMap({ media.parent[$0] }) == heif.meta,
                imageProperties.contains(box.type)
            {
                // Each kept property exactly its defined fields (a colr profile as published).
                let data = try media.payload(index, limit: 64 << 20)
                guard (try? ISOExact.heifProperty(box.type, data)) == data else {
                    throw failed("holds HEIF property \(box.type) at offset \(box.offset) larger than its fields")
                }
            }
            if ISOExact.sized.contains(box.type), allowed[parentType]?.contains(box.type) ?? false {
                // Each kept box exactly its defined size, nothing to change in it (independent of the plan).
                var track: ISOMedia.Track? = nil
                var up = media.parent[index]
                while let at = up, track == nil {
                    track = media.tracks.first { $0.box == at }
                    up = media.parent[at]
                }
                let data = try media.payload(index)
                let shape: ISOExact.Shape
                do {
                    shape = try ISOExact.shape(
                        box.type, data, handler: track?.handler ?? "", sampleCount: try media.sampleCount(track))
                } catch { throw failed("holds \(box.path) at offset \(box.offset) that cannot be sized: \(error)") }
                guard shape.defined == data.count, shape.apply(data) == data else {
                    throw failed("holds \(box.path) at offset \(box.offset) that is not exactly its defined size")
                }
            }
        }
        let kept = media.keptRanges()
        for root in media.roots where boxes[root].type == "mdat" {
            mustBeZero += Bytes.subtract(kept, from: boxes[root].payload)
        }
        guard media.structure.trailer == nil else { throw failed("still ends with an Insta360 trailer") }
        for field in media.tracks.flatMap(\.compressorNames) where try source.read(field).contains(where: { $0 != 0 }) {
            throw failed("still names its encoder or camera (compressor name at offset \(field.lowerBound))")
        }
        for range in Bytes.merge(mustBeZero) {
            var at = range.lowerBound
            while at < range.upperBound {
                let piece = try source.read(at..<min(range.upperBound, at + (1 << 20)))
                guard piece.allSatisfy({ $0 == 0 }) else {
                    throw failed("has unused bytes left at offset \(at)")
                }
                at += piece.count
            }
        }
        guard try media.presentedSHA256() == expectedContent else {
            throw failed("presents something else (different media data, timing, edit lists or picture properties)")
        }
    }
}
