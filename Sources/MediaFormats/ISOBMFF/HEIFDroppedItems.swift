import ByteKit

extension HEIFMeta {
    /// `auxC` types of the auxiliary images that are part of how the primary picture is shown: its alpha plane
    /// (MPEG-B CICP systems and the HEVC auxiliary id 1). Matched exactly, never by words in a label.
    static let shownAuxiliaryTypes: Set<String> = [
        "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", "urn:mpeg:hevc:2015:auxid:1",
    ]

    /// The pictures kept: the primary item and what it needs to be shown, nothing else. From the primary, every
    /// item a kept derived picture takes as input (`dimg`: grid tiles, overlay and identity-derivation inputs) and
    /// every auxiliary image (`auxl`) of a kept picture whose `auxC` type is in `shownAuxiliaryTypes` (alpha).
    /// Dropped with their data: thumbnails (`thmb`), depth and disparity maps, Apple's portrait mattes (skin, hair,
    /// teeth, glasses, sky) and HDR gain maps (auxiliary `hdrgainmap` images and `tmap` items; HDR rendering falls
    /// back to the SDR picture), every other top-level picture (bursts, alternatives, the second eye of a stereo
    /// pair, an original beside its edit) and the tiles only they use. A part the primary needs that is missing or
    /// not a picture is refused.
    mutating func keepPrimaryAndWhatItNeeds(_ media: ISOMedia, index: [Int: Int]) throws(MediaError) {
        func fail(_ reason: String) -> MediaError { .malformed(format: "HEIF", reason: reason) }
        try readReferences(media)
        let auxiliaryTypes = try auxiliaryTypesByItem(media)
        var kept: Set<Int> = [primary]
        var work = [primary]
        // dimg: from the derived picture to its inputs; auxl: from the auxiliary image to the picture it serves.
        var inputs: [Int: [Int]] = [:]
        var auxiliaries: [Int: [Int]] = [:]
        let dimg = Array("dimg".utf8)
        let auxl = Array("auxl".utf8)
        for reference in references {
            if reference.type == dimg { inputs[reference.from, default: []] += reference.to }
            if reference.type == auxl {
                for owner in reference.to { auxiliaries[owner, default: []].append(reference.from) }
            }
        }
        var budget = references.reduce(0) { $0 + $1.to.count } + 1  // each edge followed at most once per kept item
        while let item = work.popLast() {
            for input in inputs[item] ?? [] {
                budget -= 1
                guard budget >= 0 else { throw fail("item references loop") }
                guard let position = index[input], HEIFMeta.imageTypes.contains(items[position].type) else {
                    throw MediaError.unsupported(
                        "HEIF picture \(item) is derived from item \(input), which is not a described picture")
                }
                if kept.insert(input).inserted { work.append(input) }
            }
            for auxiliary in auxiliaries[item] ?? [] {
                budget -= 1
                guard budget >= 0 else { throw fail("item references loop") }
                guard let position = index[auxiliary], HEIFMeta.imageTypes.contains(items[position].type),
                    let type = auxiliaryTypes[auxiliary], HEIFMeta.shownAuxiliaryTypes.contains(type)
                else { continue }
                if kept.insert(auxiliary).inserted { work.append(auxiliary) }
            }
        }
        let thumbnails = Set(references.filter { $0.type == Array("thmb".utf8) }.map(\.from))
        let auxiliaryOf = Set(references.filter { $0.type == auxl }.map(\.from))
        let derivedInputs = Set(references.filter { $0.type == dimg }.flatMap(\.to))
        for position in items.indices where items[position].keep && !kept.contains(items[position].id) {
            let item = items[position]
            items[position].keep = false
            let urn = auxiliaryTypes[item.id] ?? ""
            let lower = urn.lowercased()
            if thumbnails.contains(item.id) {
                items[position].role = "thumbnail"
            } else if item.type == "tmap" || lower.contains("hdrgainmap") {
                items[position].role = "HDR gain map"
            } else if lower.contains("depth") || lower.contains("disparity") || urn == "urn:mpeg:hevc:2015:auxid:2" {
                items[position].role = "depth map"
            } else if lower.contains("matte") {
                items[position].role = "matte"
            } else if auxiliaryOf.contains(item.id) || !urn.isEmpty {
                items[position].role = urn.isEmpty ? "auxiliary image" : "auxiliary image \(urn)"
            } else if derivedInputs.contains(item.id) {
                items[position].role = "part of a dropped picture"
            } else {
                items[position].role = "picture other than the primary"
            }
        }
    }

    /// The item references (iref), read once.
    mutating func readReferences(_ media: ISOMedia) throws(MediaError) {
        func fail(_ reason: String) -> MediaError { .malformed(format: "HEIF", reason: reason) }
        guard let iref = media.child(meta, "iref") else { return }
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

    /// Each item's `auxC` type (the URN, up to its terminating zero), by its property associations.
    func auxiliaryTypesByItem(_ media: ISOMedia) throws(MediaError) -> [Int: String] {
        guard let iprp = media.child(meta, "iprp"), let ipco = media.child(iprp, "ipco") else { return [:] }
        var types: [Int: String] = [:]
        for (number, property) in media.children[ipco].enumerated() where media.boxes[property].type == "auxC" {
            let data = try media.payload(property, limit: 1 << 16)
            types[number + 1] = String(decoding: data.dropFirst(4).prefix { $0 != 0 }, as: UTF8.self)
        }
        guard !types.isEmpty else { return [:] }
        var byItem: [Int: String] = [:]
        for ipma in media.children[iprp] where media.boxes[ipma].type == "ipma" {
            for entry in try HEIFMeta.associations(try media.payload(ipma, limit: 64 << 20)) {
                for property in entry.properties {
                    guard let type = types[property.number] else { continue }
                    // Two different auxC types on one item: neither is trusted.
                    byItem[entry.id] = byItem[entry.id].map { $0 == type ? type : "(several auxC types)" } ?? type
                }
            }
        }
        return byItem
    }
}
