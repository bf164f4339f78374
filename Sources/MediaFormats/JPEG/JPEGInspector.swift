import ByteKit

/// What `inspect` lists for a JPEG file.
extension JPEGHandler {
    /// Lists the structure and every metadata item of a walked JPEG (its `contentSHA256` is set already).
    func inspect(_ bytes: [UInt8], _ structure: JPEGStructure, into report: inout InspectReport) {
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
                report.metadata += Inspector.exifItems(tiff, offset: segment.offset, holder: "EXIF block")
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
}
