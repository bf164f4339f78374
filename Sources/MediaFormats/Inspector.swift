/// One structural element of a file: a segment, a chunk, a trailer.
public struct StructureEntry: Codable, Sendable, Equatable {
    public var offset: Int
    public var length: Int
    public var name: String
    public var detail: String?
}

/// Everything `inspect` reports about one file.
public struct InspectReport: Codable, Sendable {
    public var format: MediaFormat
    public var bytes: Int
    public var fileSHA256: String
    /// `presented_sha256` (definition 2): what records name.
    public var presentedSHA256: String?
    /// `content_sha256` under its old definition 1 (coded data only), to find records that must be re-recorded.
    public var contentSHA256: String?
    public var image: ImageHeader?
    public var structure: [StructureEntry] = []
    public var metadata: [MetadataItem] = []
    public var warnings: [String] = []
    /// Why the file could not be read fully; nil when it could.
    public var error: String?
}

/// Lists a file's structure and every metadata item in it.
public enum Inspector {
    /// Inspects a file on disk: ISO-BMFF media is walked in place (a video is never loaded whole); other
    /// formats are read into memory within the limits.
    public static func inspect(path: String, limits: MediaLimits = .init()) throws(MediaError) -> InspectReport {
        try MediaFile(path: path, limits: limits).inspect(limits: limits)
    }

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
            (report.fileSHA256, report.presentedSHA256, report.contentSHA256) = try media.fingerprints()
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
            report.metadata += exifItems(
                bytes[start...], offset: item.data.first?.lowerBound ?? 0, holder: "HEIF Exif item")
        }
    }

    public static func inspect(_ bytes: [UInt8], limits: MediaLimits = .init()) -> InspectReport {
        let format = MediaFormat.sniff(bytes)
        var report = InspectReport(format: format, bytes: bytes.count, fileSHA256: RangeHasher.sha256(bytes))
        do {
            switch format {
            case .jpeg: try inspectJPEG(bytes, into: &report)
            case .png: try inspectPNG(bytes, into: &report)
            case .webp: try inspectWebP(bytes, into: &report)
            case .gif: try inspectGIF(bytes, into: &report)
            case .unknown: throw MediaError.unsupported("not an image or video format ConsentGate knows")
            case .tiff:
                throw MediaError.unsupported("TIFF is not a publishing format (export the picture as JPEG or PNG)")
            default: throw MediaError.unsupported("\(format.rawValue) is inspected in place from a file")
            }
            (report.presentedSHA256, report.contentSHA256) = try PresentedFingerprint.pictureValues(format, bytes)
            if format == .jpeg || format == .png {
                report.image = try ImageCodec.readHeader(format, bytes, limits: limits)
                if let warning = report.image?.firstWarning { report.warnings.append("decoder: \(warning)") }
            }
        } catch {
            report.error = "\(error)"
        }
        return report
    }

    /// Every EXIF entry libexif reads from a TIFF-structured block, or one item saying the block is unreadable.
    static func exifItems<C: Collection>(_ tiff: C, offset: Int, holder: String) -> [MetadataItem]
    where C.Element == UInt8 {
        EXIF.read(tiff: tiff, offset: offset)?.items
            ?? [MetadataItem(family: "EXIF", name: "unreadable \(holder)", offset: offset, bytes: tiff.count)]
    }

    static func inspectJPEG(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        let structure = try JPEGStructure(parsing: bytes)
        report.contentSHA256 = JPEGSanitizer.contentSHA256(bytes, structure)
        for segment in structure.segments {
            report.structure.append(
                StructureEntry(
                    offset: segment.offset, length: segment.bytes.count, name: segment.name,
                    detail: segment.kind.rawValue + (segment.scanData.map { ", \($0.count) bytes of scan data" } ?? ""))
            )
            let payload = segment.payload
            switch segment.kind {
            case .exif:
                let tiff = JPEGSanitizer.exifTIFF(bytes, segment)
                report.metadata += exifItems(tiff, offset: segment.offset, holder: "EXIF block")
            case .xmp:
                report.metadata.append(
                    MetadataItem(family: "XMP", name: "XMP packet", offset: segment.offset, bytes: payload.count))
            case .xmpExtended:
                report.metadata.append(
                    MetadataItem(family: "XMP", name: "extended XMP part", offset: segment.offset, bytes: payload.count)
                )
            case .photoshopIRB:
                let items = PhotoshopIRB.items(
                    bytes, range: (payload.lowerBound + 14)..<payload.upperBound, offset: segment.offset)
                report.metadata +=
                    items.isEmpty
                    ? [
                        MetadataItem(
                            family: "Photoshop", name: "image resources", offset: segment.offset, bytes: payload.count)
                    ]
                    : items
            case .comment:
                report.metadata.append(
                    MetadataItem(
                        family: "Comment", name: "COM", value: String(decoding: bytes[payload], as: UTF8.self),
                        offset: segment.offset))
            case .icc:
                report.metadata.append(
                    MetadataItem(family: "ICC", name: "ICC profile part", offset: segment.offset, bytes: payload.count))
            case .mpf:
                report.metadata.append(
                    MetadataItem(
                        family: "MPF", name: "multi-picture index", offset: segment.offset, bytes: payload.count))
            case .jfxx:
                report.metadata.append(
                    MetadataItem(family: "JFIF", name: "JFXX thumbnail", offset: segment.offset, bytes: payload.count))
            case .jfif:
                if payload.count >= 14, bytes[payload.lowerBound + 12] != 0 || bytes[payload.lowerBound + 13] != 0 {
                    report.metadata.append(
                        MetadataItem(
                            family: "JFIF", name: "JFIF thumbnail", offset: segment.offset, bytes: payload.count - 14))
                }
            case .adobe where payload.count != JPEGSanitizer.adobePayloadLength:
                report.metadata.append(
                    MetadataItem(
                        family: "APP14", name: "Adobe segment of non-standard length", offset: segment.offset,
                        bytes: payload.count))
            case .flashPix, .otherApp:
                let id = String(decoding: bytes[payload].prefix(32).prefix { $0 >= 0x20 && $0 < 0x7F }, as: UTF8.self)
                report.metadata.append(
                    MetadataItem(
                        family: segment.name, name: id.isEmpty ? "application data" : id, offset: segment.offset,
                        bytes: payload.count))
            default:
                break
            }
        }
        report.structure.append(StructureEntry(offset: structure.endOfImage, length: 2, name: "EOI"))
        if let trailer = structure.trailer {
            report.structure.append(StructureEntry(offset: trailer.lowerBound, length: trailer.count, name: "trailer"))
            let embedded =
                bytes[trailer].starts(with: [0xFF, 0xD8]) ? "embedded JPEG (preview or MPO frame)" : "data after EOI"
            report.metadata.append(
                MetadataItem(family: "Trailer", name: embedded, offset: trailer.lowerBound, bytes: trailer.count))
        }
        for stray in structure.strayBytes {
            report.warnings.append("\(stray.count) stray bytes at offset \(stray.offset)")
        }
    }

    static func inspectPNG(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        let structure = try PNGStructure(parsing: bytes)
        report.contentSHA256 = PNGSanitizer.contentSHA256(bytes, structure)
        for chunk in structure.chunks {
            report.structure.append(
                StructureEntry(
                    offset: chunk.offset, length: chunk.bytes.count, name: chunk.type,
                    detail: chunk.crcValid ? nil : "bad CRC"))
            if !chunk.crcValid {
                report.warnings.append("CRC mismatch in chunk \(chunk.type) at offset \(chunk.offset)")
            }
            let data = bytes[chunk.data]
            let keyword = String(decoding: data.prefix(79).prefix { $0 != 0 }, as: UTF8.self)
            switch chunk.type {
            case "tEXt":
                let text = data.drop { $0 != 0 }.dropFirst()
                report.metadata.append(
                    MetadataItem(
                        family: "PNG tEXt", name: keyword, value: String(text.map { Character(Unicode.Scalar($0)) }),
                        offset: chunk.offset))
            case "zTXt":
                report.metadata.append(
                    MetadataItem(family: "PNG zTXt", name: keyword, offset: chunk.offset, bytes: data.count))
            case "iTXt":
                let parts = data.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
                // The keyword's length in bytes (decoding invalid UTF-8 can make the string longer).
                let keywordBytes = data.prefix(79).prefix { $0 != 0 }.count
                let compressed = data.count > keywordBytes + 1 && data[data.startIndex + keywordBytes + 1] != 0
                let value = !compressed && parts.count == 4 ? String(decoding: parts[3], as: UTF8.self) : nil
                report.metadata.append(
                    MetadataItem(
                        family: "PNG iTXt", name: keyword, value: value, offset: chunk.offset, bytes: data.count))
            case "eXIf":
                report.metadata += exifItems(data, offset: chunk.offset, holder: "eXIf chunk")
            case "tIME":
                if data.count == 7 {
                    let d = Array(data)
                    let year = Int(d[0]) << 8 | Int(d[1])
                    report.metadata.append(
                        MetadataItem(
                            family: "PNG tIME", name: "modification time",
                            value: "\(year)-\(d[2])-\(d[3]) \(d[4]):\(d[5]):\(d[6])", offset: chunk.offset))
                } else {
                    report.metadata.append(
                        MetadataItem(
                            family: "PNG tIME", name: "modification time", offset: chunk.offset, bytes: data.count))
                }
            case "iCCP":
                report.metadata.append(
                    MetadataItem(family: "ICC", name: keyword, offset: chunk.offset, bytes: data.count))
            default:
                if !PNGSanitizer.criticalTypes.contains(chunk.type) && !PNGSanitizer.keptAncillary.contains(chunk.type)
                {
                    report.metadata.append(
                        MetadataItem(family: "PNG chunk", name: chunk.type, offset: chunk.offset, bytes: data.count))
                }
            }
        }
        if let trailer = structure.trailer {
            report.structure.append(StructureEntry(offset: trailer.lowerBound, length: trailer.count, name: "trailer"))
            report.metadata.append(
                MetadataItem(
                    family: "Trailer", name: "data after IEND", offset: trailer.lowerBound, bytes: trailer.count))
        }
    }

    static func inspectWebP(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        let structure = try WebPStructure(parsing: bytes)
        report.contentSHA256 = WebPSanitizer.contentSHA256(bytes, structure)
        for chunk in structure.chunks {
            report.structure.append(
                StructureEntry(
                    offset: chunk.offset, length: chunk.payload.count + 8, name: chunk.fourCC,
                    detail: chunk.frameChunks.isEmpty ? nil : chunk.frameChunks.map(\.fourCC).joined(separator: ", ")))
            switch chunk.fourCC {
            case "EXIF":
                let tiff = WebPSanitizer.exifTIFF(bytes, chunk)
                report.metadata += exifItems(tiff, offset: chunk.offset, holder: "EXIF chunk")
            case "XMP ":
                report.metadata.append(
                    MetadataItem(family: "XMP", name: "XMP packet", offset: chunk.offset, bytes: chunk.payload.count))
            case "ICCP":
                report.metadata.append(
                    MetadataItem(family: "ICC", name: "ICC profile", offset: chunk.offset, bytes: chunk.payload.count))
            default:
                if chunk.fourCC != "VP8X" && !WebPSanitizer.coded.contains(chunk.fourCC) {
                    report.metadata.append(
                        MetadataItem(
                            family: "RIFF chunk", name: chunk.fourCC, offset: chunk.offset, bytes: chunk.payload.count))
                }
                for sub in chunk.frameChunks where !WebPSanitizer.frameCoded.contains(sub.fourCC) {
                    report.metadata.append(
                        MetadataItem(
                            family: "RIFF chunk", name: "frame " + sub.fourCC, offset: sub.offset,
                            bytes: sub.payload.count))
                }
            }
        }
        if let trailer = structure.trailer {
            report.metadata.append(
                MetadataItem(
                    family: "Trailer", name: "data after the RIFF chunk", offset: trailer.lowerBound,
                    bytes: trailer.count))
        }
    }

    static func inspectGIF(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        let structure = try GIFStructure(parsing: bytes)
        report.contentSHA256 = GIFSanitizer.contentSHA256(bytes, structure)
        report.image = ImageHeader(
            width: Int(bytes[6]) | Int(bytes[7]) << 8, height: Int(bytes[8]) | Int(bytes[9]) << 8, components: 1,
            bitDepth: 8,
            progressiveOrInterlaced: false, warnings: 0, firstWarning: nil)
        for block in structure.blocks {
            report.structure.append(
                StructureEntry(offset: block.range.lowerBound, length: block.range.count, name: block.name))
            switch block.kind {
            case .comment:
                // Sub-blocks after the two-byte introducer: size byte, data, ... , 0.
                var text: [UInt8] = []
                var at = block.range.lowerBound + 2
                while at < block.range.upperBound, bytes[at] != 0 {
                    let size = Int(bytes[at])
                    text += bytes[(at + 1)..<min(at + 1 + size, block.range.upperBound)]
                    at += 1 + size
                }
                report.metadata.append(
                    MetadataItem(
                        family: "Comment", name: "GIF comment", value: String(decoding: text, as: UTF8.self),
                        offset: block.range.lowerBound))
            case .application(let id) where !GIFSanitizer.keeps(block.kind):
                report.metadata.append(
                    MetadataItem(
                        family: id.hasPrefix("XMP") ? "XMP" : "GIF application", name: id,
                        offset: block.range.lowerBound, bytes: block.range.count))
            case .plainText, .otherExtension:
                report.metadata.append(
                    MetadataItem(
                        family: "GIF extension", name: block.name, offset: block.range.lowerBound,
                        bytes: block.range.count))
            default:
                break
            }
        }
        if structure.missingTrailer { report.warnings.append("no GIF trailer at the end of the file") }
        if let trailer = structure.trailer {
            report.metadata.append(
                MetadataItem(
                    family: "Trailer", name: "data after the GIF trailer", offset: trailer.lowerBound,
                    bytes: trailer.count))
        }
    }
}
