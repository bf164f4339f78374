import ByteKit

/// What `inspect` lists for a WebP file.
extension WebPHandler {
    /// Lists the structure and every metadata item of a walked WebP (its `contentSHA256` is set already).
    func inspect(_ bytes: [UInt8], _ structure: WebPStructure, into report: inout InspectReport) {
        for chunk in structure.chunks {
            report.structure.append(
                StructureEntry(
                    offset: chunk.offset, length: chunk.payload.count + 8, name: chunk.fourCC,
                    detail: chunk.frameChunks.isEmpty ? nil : chunk.frameChunks.map(\.fourCC).joined(separator: ", ")))
            switch chunk.fourCC {
            case "EXIF":
                let tiff = WebPSanitizer.exifTIFF(bytes, chunk)
                report.metadata += Inspector.exifItems(tiff, offset: chunk.offset, holder: "EXIF chunk")
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
}
