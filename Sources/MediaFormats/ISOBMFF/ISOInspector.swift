import ByteKit

/// Metadata in ISO-BMFF files (MP4, MOV, 3GP, HEIC, HEIF, AVIF), read from the box tree without media data.
enum ISOInspector {
    static let xmpUUID: [UInt8] = [
        0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC,
    ]
    /// Sample entry types of timed metadata, text and subtitle tracks (face boxes, GoPro GPS, captions...).
    static let metadataEntries: Set<String> = [
        "mebx", "gpmd", "camm", "tx3g", "text", "wvtt", "stpp", "c608", "c708", "mett", "metx", "rtp ",
    ]
    static let metadataHandlers: Set<String> = ["meta", "text", "sbtl", "subt", "clcp", "tmcd"]
    /// Seconds from 1904-01-01 (the QuickTime epoch) to 1970-01-01.
    static let epochOffset = 2_082_844_800

    /// Text of a small box's payload, or nil when the box is large (media data is never read).
    static func payload(_ source: FileSource, _ box: ISOBox, limit: Int = 1 << 20) throws(MediaError) -> [UInt8]? {
        box.payload.count <= limit ? try source.read(box.payload) : nil
    }

    /// Where the 32-byte compressor name (a Pascal string naming the encoder or camera, "GoPro AVC encoder") lies in
    /// each visual sample entry of an stsd payload: 50 bytes into the entry, after the sample entry header, the
    /// reserved and pre-defined fields, size, resolution and frame count (ISO 14496-12 VisualSampleEntry; QuickTime's
    /// video sample description has the same layout).
    static func compressorNames(_ stsd: [UInt8]) -> [Range<Int>] {
        var names: [Range<Int>] = []
        var at = 8
        while at + 8 <= stsd.count {
            let size = Bytes.be(stsd, at, 4)
            guard size >= 8, size <= stsd.count - at else { break }
            if size >= 82 { names.append((at + 50)..<(at + 82)) }
            at += size
        }
        return names
    }

    static func inspect(_ source: FileSource, _ structure: ISOStructure, into report: inout InspectReport)
        throws(MediaError)
    {
        if let trailer = structure.trailer {
            report.metadata.append(
                MetadataItem(
                    family: "Trailer", name: "Insta360 trailer (serial number, GPS)", offset: trailer.lowerBound,
                    bytes: trailer.count))
        }
        // The handler of the track being walked (its mdia/hdlr comes before its sample table).
        var trackHandler = ""
        var mdtaKeys: [Int: String] = [:]
        // The most recent box at each depth: a box's parent, without searching the list (it may be long).
        var lastAtDepth: [Int: ISOBox] = [:]
        for box in structure.boxes {
            lastAtDepth[box.depth] = box
            report.structure.append(StructureEntry(offset: box.offset, length: box.size, name: box.path))
            var found: [MetadataItem] = []
            func item(_ family: String, _ name: String, _ value: String?) {
                found.append(
                    MetadataItem(family: family, name: name, value: value, offset: box.offset, bytes: box.payload.count)
                )
            }
            defer { report.metadata += found }
            switch box.type {
            case "uuid":
                // The 16-byte user type follows the size and type (a box too short for it is a vendor box too).
                let user =
                    box.headerSize >= 24
                    ? try source.read((box.offset + box.headerSize - 16)..<(box.offset + box.headerSize)) : []
                if user == xmpUUID {
                    item("XMP", "XMP packet (uuid box)", nil)
                } else {
                    item("uuid", "vendor box", nil)
                }
            case "loci": item("Location", "3GPP location (loci)", nil)
            case "mvhd", "tkhd", "mdhd":
                guard let data = try payload(source, box), data.count >= 12 else { continue }
                let wide = data[0] == 1
                let created = wide ? Bytes.be(data, 4, 8) : Bytes.be(data, 4, 4)
                let modified = wide ? Bytes.be(data, 12, 8) : Bytes.be(data, 8, 4)
                if created != 0 || modified != 0 {
                    let seconds = max(created, modified) - epochOffset
                    item("Time", "\(box.type) creation/modification time", "\(seconds) s since 1970 (UTC)")
                }
            case "trak": trackHandler = ""
            case "hdlr" where box.path.hasSuffix("mdia/hdlr"):
                if let data = try payload(source, box), data.count >= 12 {
                    trackHandler = String(decoding: data[8..<12], as: UTF8.self)
                    if metadataHandlers.contains(trackHandler) {
                        item("Track", "\(trackHandler) track (timed metadata, text or timecode)", nil)
                    }
                }
            case "stsd":
                if let data = try payload(source, box), data.count >= 16 {
                    let entry = String(decoding: data[12..<16], as: UTF8.self)
                    if metadataEntries.contains(entry) { item("Track", "timed metadata or text track (\(entry))", nil) }
                    if trackHandler == "vide" {
                        for name in compressorNames(data) where !data[name].allSatisfy({ $0 == 0 }) {
                            let text = data[
                                (name.lowerBound + 1)..<min(
                                    name.upperBound, name.lowerBound + 1 + Int(data[name.lowerBound]))]
                            item(
                                "Device", "compressor name (video sample entry)", String(decoding: text, as: UTF8.self))
                        }
                    }
                }
            case "keys":
                // Apple mdta keys: version/flags, count, then (size, namespace, key name) entries.
                guard let data = try payload(source, box), data.count >= 8 else { continue }
                var at = 8
                var index = 1
                while at + 8 <= data.count {
                    let size = Bytes.be(data, at, 4)
                    guard size >= 8, at + size <= data.count else { break }
                    mdtaKeys[index] = String(decoding: data[(at + 8)..<(at + size)], as: UTF8.self)
                    index += 1
                    at += size
                }
            case "data" where box.path.contains("ilst/"):
                guard let data = try payload(source, box, limit: 4096), data.count >= 8 else {
                    item("QuickTime metadata", box.path, nil)
                    continue
                }
                let parent = box.path.split(separator: "/").dropLast().last.map(String.init) ?? "?"
                let keyIndex =
                    lastAtDepth[box.depth - 1]
                    .map { b -> Int in
                        let head = (try? source.read(b.offset + 4..<b.offset + 8)) ?? []
                        return Bytes.be(head, 0, 4)
                    } ?? 0
                let name = mdtaKeys[keyIndex] ?? parent
                let type = Bytes.be(data, 0, 4)
                let value = type == 1 ? String(decoding: data[8...], as: UTF8.self) : nil
                item("QuickTime metadata", name, value)
            case "infe":
                guard let data = try payload(source, box), data.count >= 8, data[0] >= 2 else { continue }
                let idSize = data[0] == 2 ? 2 : 4
                let typeAt = 4 + idSize + 2
                guard data.count >= typeAt + 4 else { continue }
                let itemType = String(decoding: data[typeAt..<(typeAt + 4)], as: UTF8.self)
                if itemType == "Exif" { item("EXIF", "Exif item", nil) }
                if itemType == "mime" {
                    let rest = String(decoding: data[(typeAt + 4)...], as: UTF8.self)
                    if rest.contains("rdf+xml") || rest.contains("xmp") { item("XMP", "XMP item", nil) }
                }
            default:
                if box.type.hasPrefix("©") && box.path.contains("udta") && !box.path.contains("ilst") {
                    // QuickTime user data text: 2-byte length, 2-byte language, text.
                    var value: String? = nil
                    if let data = try payload(source, box, limit: 4096), data.count >= 4 {
                        let length = Bytes.be(data, 0, 2)
                        if length > 0, 4 + length <= data.count {
                            value = String(decoding: data[4..<(4 + length)], as: UTF8.self)
                        }
                    }
                    item(box.type == "©xyz" ? "GPS" : "QuickTime user data", box.type, value)
                } else if box.path.hasSuffix("udta/" + box.type) && !["meta", "free", "skip"].contains(box.type) {
                    item("QuickTime user data", box.type, nil)
                }
            }
        }
    }

    /// The report of an ISO-BMFF file, walked in place: boxes, metadata, tracks and items, fingerprints.
    static func inspect(source: FileSource, format: MediaFormat) -> InspectReport {
        var report = InspectReport(format: format, bytes: source.count, fileSHA256: "")
        let structure: ISOStructure
        do {
            structure = try ISOStructure(source: source)
            try ISOInspector.inspect(source, structure, into: &report)
        } catch {
            report.error = "\(error)"
            report.fileSHA256 = (try? source.sha256()) ?? ""
            return report
        }
        let media: ISOMedia
        do {
            media = try ISOMedia(source: source, structure: structure)
        } catch {
            // The structure is readable but the media is not understood: the file hash alone.
            do { report.fileSHA256 = try source.sha256() } catch { report.error = "\(error)" }
            report.warnings.append("no presented_sha256: \(error)")
            return report
        }
        do {
            (report.fileSHA256, report.presentedSHA256, report.legacyContentSHA256) = try media.fingerprints()
        } catch {
            report.error = "\(error)"
            return report
        }
        describeTracksAndItems(media, into: &report)
        do {
            try heifExifItems(media, into: &report)
        } catch {
            report.warnings.append("the Exif items could not be read: \(error)")
        }
        return report
    }

    /// What each track and item is, and whether publishing keeps it, beside its box in the structure.
    static func describeTracksAndItems(_ media: ISOMedia, into report: inout InspectReport) {
        let entries = Dictionary(
            report.structure.enumerated().map { ("\($0.element.offset) \($0.element.name)", $0.offset) },
            uniquingKeysWith: { a, _ in a })
        for track in media.tracks {
            let box = media.boxes[track.box]
            guard let entry = entries["\(box.offset) \(box.path)"] else { continue }
            report.structure[entry].detail =
                "track \(track.id): \(track.handler) \(track.sampleEntries.joined(separator: ",")), "
                + "\(track.chunks.count) chunk(s), \(track.keep ? "kept" : "dropped when published")"
        }
        for item in media.heif?.items ?? [] {
            let box = media.boxes[item.infe]
            guard let entry = entries["\(box.offset) \(box.path)"] else { continue }
            report.structure[entry].detail =
                "item \(item.id): \(item.type)\(item.role.map { " (\($0))" } ?? "")"
                + "\(item.id == media.heif?.primary ? ", primary" : ""), \(item.keep ? "kept" : "removed when published")"
                + (item.published != nil ? ", metadata (SEI, OBUs or JPEG segments) inside its data removed" : "")
        }
    }

    /// What a HEIF's Exif items hold (GPS, maker notes, serials), read by libexif like a JPEG's.
    static func heifExifItems(_ media: ISOMedia, into report: inout InspectReport) throws(MediaError) {
        for item in media.heif?.items ?? [] where item.type == "Exif" {
            guard item.data.reduce(0, { $0 + $1.count }) <= 4 << 20 else { continue }
            var bytes: [UInt8] = []
            for piece in item.data { bytes += try media.source.read(piece) }
            // The item starts with the offset of the TIFF header from the end of this 4-byte field.
            let start = 4 + Bytes.be(bytes, 0, 4)
            guard bytes.count >= 4, start < bytes.count else { continue }
            report.metadata += Inspector.exifItems(
                bytes[start...], offset: item.data.first?.lowerBound ?? 0, holder: "HEIF Exif item")
        }
    }
}
