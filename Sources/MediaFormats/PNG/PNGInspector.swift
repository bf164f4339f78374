import ByteKit

/// What `inspect` lists for a PNG file.
extension PNGHandler {
    /// Lists the structure and every metadata item of a walked PNG (its `contentSHA256` is set already).
    func inspect(_ bytes: [UInt8], _ structure: PNGStructure, into report: inout InspectReport) {
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
                report.metadata += Inspector.exifItems(data, offset: chunk.offset, holder: "eXIf chunk")
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
}
