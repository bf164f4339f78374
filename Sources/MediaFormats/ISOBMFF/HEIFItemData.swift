import ByteKit

/// A kept picture item's coded data as published: the metadata inside it removed as in a video sample
/// (`ISOSampleFilter`: SEI outside the allowlist in HEVC and H.264 items, AV1 metadata and padding OBUs), and a
/// `jpeg` item rebuilt by the JPEG sanitizer (`publishJPEGItem`). The published
/// data is written over the first bytes of the item's old extents, in order; iloc's extent lengths are rewritten
/// and the bytes after them zeroed with the rest of the unused media data. `presented_sha256` covers the data as
/// published, so the input and the copy agree.
extension HEIFMeta {
    /// Item types whose data is filtered, and the configuration property giving their NAL unit length size.
    static let filteredItemTypes: [String: String] = ["hvc1": "hvcC", "hev1": "hvcC", "avc1": "avcC", "av01": "av1C"]

    /// The largest item read into memory to be filtered (a HEIF tile or picture is a few megabytes).
    static let largestFilteredItem = 256 << 20

    mutating func publishItemData(_ media: ISOMedia) throws(MediaError) {
        guard items.contains(where: { $0.keep && (HEIFMeta.filteredItemTypes[$0.type] != nil || $0.type == "jpeg") })
        else { return }
        let configurations = try configurationsByItem(media)
        for position in items.indices where items[position].keep && items[position].type == "jpeg" {
            try publishJPEGItem(media, at: position)
        }
        for position in items.indices where items[position].keep {
            let item = items[position]
            guard let box = HEIFMeta.filteredItemTypes[item.type] else { continue }
            var lengthSize = 4
            if box != "av1C" {
                guard let configuration = configurations[item.id], configuration.type == box,
                    configuration.data.count > (box == "hvcC" ? 21 : 4)
                else {
                    throw MediaError.unsupported("HEIF item \(item.id) (\(item.type)) has no \(box) to decode it with")
                }
                lengthSize = Int(configuration.data[box == "hvcC" ? 21 : 4] & 3) + 1
            }
            let total = item.data.reduce(0) { $0 + $1.count }
            guard total <= HEIFMeta.largestFilteredItem else {
                throw MediaError.unsupported(
                    "HEIF item \(item.id) is larger than \(HEIFMeta.largestFilteredItem >> 20) MB")
            }
            var data: [UInt8] = []
            data.reserveCapacity(total)
            for extent in item.data { data += try media.source.read(extent) }
            let filtered: [UInt8]
            do {
                filtered = try ISOSampleFilter.filter(data, format: item.type, lengthSize: lengthSize)
            } catch {
                throw MediaError.unsupported(
                    "HEIF item \(item.id) (\(item.type)) cannot be read as coded data: \(error)")
            }
            try publish(filtered, original: data, at: position)
        }
    }

    /// A `jpeg` item's data through the JPEG sanitizer (the same allowlist and verification as a JPEG file: EXIF,
    /// XMP, comments and unknown segments out).
    mutating func publishJPEGItem(_ media: ISOMedia, at position: Int) throws(MediaError) {
        let item = items[position]
        let total = item.data.reduce(0) { $0 + $1.count }
        guard total <= HEIFMeta.largestFilteredItem else {
            throw MediaError.unsupported("HEIF item \(item.id) is larger than \(HEIFMeta.largestFilteredItem >> 20) MB")
        }
        var data: [UInt8] = []
        for extent in item.data { data += try media.source.read(extent) }
        let built: [UInt8]
        do {
            built = try JPEGHandler().sanitize(data, options: SanitizeOptions()).output
        } catch {
            throw MediaError.unsupported("HEIF item \(item.id) (jpeg) cannot be published as a clean JPEG: \(error)")
        }
        try publish(built, original: data, at: position)
    }

    /// Records `published` as the item's data when it differs from `original`, over the first bytes of its extents.
    mutating func publish(_ published: [UInt8], original: [UInt8], at position: Int) throws(MediaError) {
        let item = items[position]
        guard published != original else { return }
        guard published.count <= original.count else {
            throw MediaError.unsupported("HEIF item \(item.id)'s cleaned data is larger than its old data")
        }
        guard ilocLayout.length > 0 else {
            throw MediaError.unsupported(
                "HEIF item \(item.id) holds metadata, and iloc has no extent lengths to shorten")
        }
        var extents: [Range<Int>] = []
        var left = published.count
        for extent in item.data where left > 0 {
            let take = min(extent.count, left)
            extents.append(extent.lowerBound..<(extent.lowerBound + take))
            left -= take
        }
        items[position].published = published
        items[position].publishedExtents = extents
    }

    /// Each item's codec configuration property (hvcC, avcC or av1C), by its associations.
    func configurationsByItem(_ media: ISOMedia) throws(MediaError) -> [Int: (type: String, data: [UInt8])] {
        guard let iprp = media.child(meta, "iprp"), let ipco = media.child(iprp, "ipco") else { return [:] }
        let properties = media.children[ipco]
        var byItem: [Int: (type: String, data: [UInt8])] = [:]
        for ipma in media.children[iprp] where media.boxes[ipma].type == "ipma" {
            for entry in try HEIFMeta.associations(try media.payload(ipma, limit: 64 << 20)) {
                for property in entry.properties where property.number >= 1 && property.number <= properties.count {
                    let box = properties[property.number - 1]
                    let type = media.boxes[box].type
                    guard ["hvcC", "avcC", "av1C"].contains(type) else { continue }
                    byItem[entry.id] = (type, try media.payload(box, limit: 1 << 20))
                }
            }
        }
        return byItem
    }

    /// The iloc entry of an item whose data was published shorter: the same fields, its first extents with their new
    /// lengths. The entry as it was for any other item.
    func ilocEntry(_ item: Item, in data: [UInt8]) -> [UInt8] {
        let entry = Array(data[item.ilocEntry!])
        guard let extents = item.publishedExtents else { return entry }
        let layout = ilocLayout
        let head = (layout.version < 2 ? 2 : 4) + (layout.version >= 1 ? 2 : 0) + 2 + layout.base
        let width = layout.index + layout.offset + layout.length
        var out = Array(entry[0..<head]) + Bytes.put(extents.count, 2)
        for (number, extent) in extents.enumerated() {
            let at = head + 2 + number * width
            out += Array(entry[at..<(at + layout.index + layout.offset)]) + Bytes.put(extent.count, layout.length)
        }
        return out
    }

    /// The published data of items in the file (not idat), as patches over their new extents.
    func publishedDataPatches() -> [(offset: Int, bytes: [UInt8])] {
        var patches: [(offset: Int, bytes: [UInt8])] = []
        for item in items where item.keep && !item.inIdat {
            guard let published = item.published, let extents = item.publishedExtents else { continue }
            var at = 0
            for extent in extents {
                patches.append((extent.lowerBound, Array(published[at..<(at + extent.count)])))
                at += extent.count
            }
        }
        return patches
    }
}

extension ISOMedia {
    /// The HEIF stream's digest when an item's data is published changed: its kept items in item-ID order, each as
    /// published. Nil when the file's own ranges are what is published (`streams()`).
    func publishedHEIFDigest() throws(MediaError) -> [UInt8]? {
        guard let heif, heif.items.contains(where: { $0.keep && $0.published != nil }) else { return nil }
        var hasher = RangeHasher()
        for item in heif.items.sorted(by: { $0.id < $1.id }) where item.keep {
            if let published = item.published {
                hasher.update(published)
            } else {
                for range in item.data { try source.hash(range, into: &hasher) }
            }
        }
        return hasher.finalizeBytes()
    }
}
