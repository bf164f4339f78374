import ByteKit

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
