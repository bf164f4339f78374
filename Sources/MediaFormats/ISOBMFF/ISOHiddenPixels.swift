import ByteKit

/// Hidden pixels (issue 22 item 7): a coded picture larger than what is shown holds a part no viewer sees (a cropped
/// face, a name), and changing one field brings it back. Refused, with the reason, when the coded area exceeds the
/// displayed area by more than the coding structure requires:
/// - H.264 `frame_cropping` and HEVC `conformance_window` in the SPS of a kept video track's `avcC`/`hvcC`, or of a
///   kept HEIF item's: at most the padding to the next macroblock (16, 32 rows for field coding) or minimum coding
///   block (HEVC; at least 16, as hardware encoders pad to macroblocks), per axis (`VideoSPS.hiddenPixelsReason`);
/// - a `clap` cropping 16 or more columns or rows: a HEIF item's off its `ispe`, a video sample entry's off the
///   entry's width and height (QuickTime players crop to it);
/// - a HEIF `grid` whose tiles extend past its output size by a whole tile or more (padding the last row and column
///   of tiles, as iPhones do to 512-pixel tiles, is what the coding needs).
extension ISOMedia {
    func refuseHiddenPixels() throws(MediaError) {
        for track in tracks where track.keep && track.handler == "vide" {
            guard let stsd = path(track.box, ["mdia", "minf", "stbl", "stsd"]) else { continue }
            let d = try payload(stsd)
            guard d.count >= 8 else { continue }
            var at = 8
            for _ in 0..<Bytes.be(d, 4, 4) {
                guard at + 8 <= d.count else { break }
                let size = Bytes.be(d, at, 4)
                guard size >= 8, size <= d.count - at else { break }
                var child = at + 86
                var shown: (width: Int, height: Int)? = nil
                var clap: [UInt8]? = nil
                while child + 8 <= at + size {
                    let length = Bytes.be(d, child, 4)
                    guard length >= 8, length <= at + size - child else { break }
                    let type = String(decoding: d[(child + 4)..<(child + 8)], as: UTF8.self)
                    let body = Array(d[(child + 8)..<(child + length)])
                    if let decoded = try ISOMedia.refuseHiddenPixels(configuration: type, body) {
                        shown = shown ?? decoded
                    }
                    if type == "clap", body.count >= 32 { clap = body }
                    child += length
                }
                if let clap, at + 36 <= d.count {
                    // A clean aperture in the sample entry (QuickTime players crop to it) against the larger of the
                    // entry's size and the picture its SPS decodes to: an entry declaring the clap's size cannot
                    // make a crop of the decoded picture look like none.
                    let entry = (width: Bytes.be(d, at + 32, 2), height: Bytes.be(d, at + 34, 2))
                    let decoded = shown ?? entry
                    try ISOMedia.refuseHiddenPixels(
                        clap: clap, size: (max(entry.width, decoded.width), max(entry.height, decoded.height)),
                        what: "the video of track \(track.id)", broadcastMargins: true)
                }
                at += size
            }
        }
        if let heif { try refuseHiddenPixels(heif) }
    }

    /// The SPS NAL units of an `avcC` or `hvcC` payload, each checked; the size the first one decodes to (its coded
    /// size less its cropping), nil for another box or one without an SPS.
    @discardableResult
    static func refuseHiddenPixels(configuration type: String, _ d: [UInt8]) throws(MediaError)
        -> (width: Int, height: Int)?
    {
        var shown: (width: Int, height: Int)? = nil
        func short() -> MediaError { .malformed(format: "ISO-BMFF", reason: "\(type) is shorter than its fields") }
        switch type {
        case "avcC":
            guard d.count >= 6 else { throw short() }
            var at = 6
            for _ in 0..<Int(d[5] & 0x1F) {
                guard at + 2 <= d.count else { throw short() }
                let length = Bytes.be(d, at, 2)
                guard length >= 1, at + 2 + length <= d.count else { throw short() }
                let unit = Array(d[(at + 2)..<(at + 2 + length)])
                if unit[0] & 0x1F == 7 {
                    let sps = try VideoSPS(avc: unit)
                    if let reason = sps.hiddenPixelsReason(codec: "H.264") { throw MediaError.unsupported(reason) }
                    shown = shown ?? sps.shown
                }
                at += 2 + length
            }
        case "hvcC":
            guard d.count >= 23 else { throw short() }
            var at = 23
            for _ in 0..<Int(d[22]) {
                guard at + 3 <= d.count else { throw short() }
                let kind = d[at] & 0x3F
                let count = Bytes.be(d, at + 1, 2)
                at += 3
                for _ in 0..<count {
                    guard at + 2 <= d.count else { throw short() }
                    let length = Bytes.be(d, at, 2)
                    guard at + 2 + length <= d.count else { throw short() }
                    let unit = Array(d[(at + 2)..<(at + 2 + length)])
                    if kind == 33, unit.count >= 2 {
                        let sps = try VideoSPS(hevc: unit)
                        if let reason = sps.hiddenPixelsReason(codec: "HEVC") { throw MediaError.unsupported(reason) }
                        shown = shown ?? sps.shown
                    }
                    at += 2 + length
                }
            }
        default: break
        }
        return shown
    }

    /// Kept HEIF items: their SPS, their `clap` against their `ispe`, a grid's tiles against its output size.
    func refuseHiddenPixels(_ heif: HEIFMeta) throws(MediaError) {
        guard let iprp = child(heif.meta, "iprp"), let ipco = child(iprp, "ipco") else { return }
        let properties = children[ipco]
        var byItem: [Int: [String: [UInt8]]] = [:]
        for ipma in children[iprp] where boxes[ipma].type == "ipma" {
            for entry in try HEIFMeta.associations(try payload(ipma, limit: 64 << 20)) {
                for property in entry.properties where property.number >= 1 && property.number <= properties.count {
                    let box = properties[property.number - 1]
                    let type = boxes[box].type
                    guard ["avcC", "hvcC", "ispe", "clap"].contains(type) else { continue }
                    byItem[entry.id, default: [:]][type] = try payload(box, limit: 1 << 20)
                }
            }
        }
        func size(_ id: Int) -> (width: Int, height: Int)? {
            guard let ispe = byItem[id]?["ispe"], ispe.count >= 12 else { return nil }
            return (Bytes.be(ispe, 4, 4), Bytes.be(ispe, 8, 4))
        }
        for item in heif.items where item.keep {
            for type in ["avcC", "hvcC"] {
                if let configuration = byItem[item.id]?[type] {
                    try ISOMedia.refuseHiddenPixels(configuration: type, configuration)
                }
            }
            if let clap = byItem[item.id]?["clap"], clap.count >= 32, let shown = size(item.id) {
                try ISOMedia.refuseHiddenPixels(clap: clap, size: shown, what: "HEIF picture \(item.id)")
            }
            if item.type == "grid", let output = size(item.id) {
                try refuseHiddenTiles(heif, grid: item, output: output, size: size)
            }
        }
    }

    /// A `clap` (clean aperture: width, height, offsets as fractions) cropping 16 or more columns or rows off `size`;
    /// with `broadcastMargins`, up to 3% of each dimension besides (the SMPTE clean apertures of video: 720 to 704,
    /// 1920x1080 to 1888x1062, which ProRes and DV files carry and ffmpeg does not apply).
    static func refuseHiddenPixels(
        clap: [UInt8], size: (width: Int, height: Int), what: String, broadcastMargins: Bool = false
    ) throws(MediaError) {
        func fraction(_ at: Int) -> Double {
            let denominator = Bytes.be(clap, at + 4, 4)
            return denominator == 0 ? 0 : Double(Bytes.be(clap, at, 4)) / Double(denominator)
        }
        let width = fraction(0)
        let height = fraction(8)
        let across = max(16, broadcastMargins ? Double(size.width) * 0.03 : 0)
        let down = max(16, broadcastMargins ? Double(size.height) * 0.03 : 0)
        guard Double(size.width) - width >= across || Double(size.height) - height >= down else { return }
        throw MediaError.unsupported(
            "\(what) is \(size.width)x\(size.height) pixels but its clean aperture (clap) shows only "
                + "\(Int(width))x\(Int(height)): the cropped-away part would be published; "
                + "export it at the size it is shown")
    }

    /// A grid's tiles cover its output size with less than one tile to spare in each direction.
    func refuseHiddenTiles(
        _ heif: HEIFMeta, grid: HEIFMeta.Item, output: (width: Int, height: Int),
        size: (Int) -> (width: Int, height: Int)?
    ) throws(MediaError) {
        guard let extent = grid.data.first, extent.count >= 8, extent.count <= 64 else { return }
        let data = try source.read(extent)
        let rows = Int(data[2]) + 1
        let columns = Int(data[3]) + 1
        let tiles = heif.references.first { $0.type == Array("dimg".utf8) && $0.from == grid.id }?.to ?? []
        guard let first = tiles.first, let tile = size(first), tile.width > 0, tile.height > 0 else { return }
        let spareAcross = columns * tile.width - output.width
        let spareDown = rows * tile.height - output.height
        guard spareAcross >= tile.width || spareDown >= tile.height else { return }
        throw MediaError.unsupported(
            "HEIF picture \(grid.id) shows \(output.width)x\(output.height) pixels of a \(columns)x\(rows) grid of "
                + "\(tile.width)x\(tile.height) tiles: whole tiles no viewer sees would be published; "
                + "export the picture at the size it is shown")
    }
}
