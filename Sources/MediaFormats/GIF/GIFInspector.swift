import ByteKit

/// What `inspect` lists for a GIF file.
extension GIFHandler {
    /// Lists the structure and every metadata item of a walked GIF (its `contentSHA256` is set already).
    func inspect(_ bytes: [UInt8], _ structure: GIFStructure, into report: inout InspectReport) {
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
