import ByteKit

/// The HEIF meta box as published: only the picture items, their kept properties and references, padded to its old size.
extension ISOSanitizer {
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
        for item in heif.items where item.keep && item.published != nil {
            let before = item.data.reduce(0) { $0 + $1.count }
            removed.append("\(before - item.published!.count) bytes of metadata (SEI, OBUs, JPEG segments) in HEIF item \(item.id)'s data")
        }
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
                for item in kept { payload += heif.ilocEntry(item, in: data) }
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
                // Only the kept items' bytes: a removed item's data and any range no item uses are zeroed.
                var copy = [UInt8](repeating: 0, count: data.count)
                let base = boxes[child].payload.lowerBound
                for item in heif.items where item.keep && item.inIdat {
                    var at = 0
                    for extent in item.shownExtents {
                        let range = (extent.lowerBound - base)..<(extent.upperBound - base)
                        if let published = item.published {
                            copy.replaceSubrange(range, with: published[at..<(at + extent.count)])
                            at += extent.count
                        } else {
                            copy.replaceSubrange(range, with: data[range])
                        }
                    }
                }
                let unused = zip(data, copy).filter { $0 != $1 }.count
                if unused > 0 { removed.append("\(unused) bytes of idat no kept item uses") }
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
}
