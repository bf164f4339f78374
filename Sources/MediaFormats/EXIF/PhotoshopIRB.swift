import ByteKit

/// Photoshop image resource blocks (JPEG APP13), and the IPTC-IIM records inside resource 0x0404.
enum PhotoshopIRB {
    static let iptcDatasetNames: [UInt16: String] = [
        0x0205: "ObjectName", 0x0219: "Keywords", 0x0228: "SpecialInstructions", 0x0237: "DateCreated",
        0x023C: "TimeCreated", 0x0250: "By-line", 0x0255: "By-lineTitle", 0x025A: "City", 0x025C: "Sub-location",
        0x025F: "Province-State", 0x0264: "Country-PrimaryLocationCode", 0x0265: "Country-PrimaryLocationName",
        0x0267: "OriginalTransmissionReference", 0x0269: "Headline", 0x026E: "Credit", 0x0273: "Source",
        0x0274: "CopyrightNotice", 0x0276: "Contact", 0x0278: "Caption-Abstract", 0x027A: "Writer-Editor",
    ]

    /// Lists the resources of one APP13 payload (after "Photoshop 3.0\0"). Total: stops at the first bad block.
    static func items(_ bytes: [UInt8], range: Range<Int>, offset: Int) -> [MetadataItem] {
        var items: [MetadataItem] = []
        var position = range.lowerBound
        let end = range.upperBound
        while position + 12 <= end, bytes[position..<position + 4].elementsEqual(Array("8BIM".utf8)) {
            let id = UInt16(bytes[position + 4]) << 8 | UInt16(bytes[position + 5])
            let nameLength = Int(bytes[position + 6])
            var cursor = position + 6 + ((nameLength + 2) & ~1)  // Pascal string padded to even
            guard cursor + 4 <= end else { break }
            let size = bytes[cursor..<cursor + 4].reduce(0) { $0 << 8 | Int($1) }
            cursor += 4
            guard size >= 0, size <= end - cursor else { break }
            if id == 0x0404 {
                items += iptc(bytes, range: cursor..<cursor + size, offset: offset)
            } else {
                items.append(
                    MetadataItem(
                        family: "Photoshop", name: "resource 0x" + String(id, radix: 16), offset: offset, bytes: size))
            }
            position = cursor + size + (size & 1)
        }
        return items
    }

    /// IPTC-IIM datasets: 0x1C, record, dataset, 2-byte length, data.
    static func iptc(_ bytes: [UInt8], range: Range<Int>, offset: Int) -> [MetadataItem] {
        var items: [MetadataItem] = []
        var position = range.lowerBound
        while position + 5 <= range.upperBound, bytes[position] == 0x1C {
            let record = bytes[position + 1]
            let dataset = bytes[position + 2]
            let length = Int(bytes[position + 3]) << 8 | Int(bytes[position + 4])
            let start = position + 5
            guard length & 0x8000 == 0, start + length <= range.upperBound else { break }
            let key = UInt16(record) << 8 | UInt16(dataset)
            let name = iptcDatasetNames[key] ?? "\(record):\(dataset)"
            let value = String(decoding: bytes[start..<start + length], as: UTF8.self)
            items.append(MetadataItem(family: "IPTC", name: name, value: value, offset: offset))
            position = start + length
        }
        return items
    }
}
