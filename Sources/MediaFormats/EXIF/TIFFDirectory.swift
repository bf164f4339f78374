import ByteKit

/// A bounds-checked read of a TIFF header and its first IFD: the tags present and where IFD1 starts.
///
/// libexif does the real EXIF parsing; this exists as a second, independent path for two questions
/// libexif cannot answer: "does IFD0 point at a GPS directory libexif refused to read?" and "is this
/// EXIF block exactly one Orientation entry?" (verification of our own output).
struct TIFFDirectory {
    struct Entry: Equatable {
        var tag: UInt16
        var type: UInt16
        var count: UInt32
        var value: UInt32
    }

    var entries: [Entry]
    var nextDirectoryOffset: UInt32

    init?<C: Collection>(tiff: C) where C.Element == UInt8 {
        let bytes = Array(tiff)
        guard bytes.count >= 8 else { return nil }
        let little: Bool
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> UInt16? {
            guard at >= 0, at + 2 <= bytes.count else { return nil }
            return little
                ? UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 : UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
        }
        func u32(_ at: Int) -> UInt32? {
            guard let high = u16(little ? at + 2 : at), let low = u16(little ? at : at + 2) else { return nil }
            return UInt32(high) << 16 | UInt32(low)
        }
        guard u16(2) == 42, let first = u32(4), let count = u16(Int(first)) else { return nil }
        var entries: [Entry] = []
        for index in 0..<Int(count) {
            let at = Int(first) + 2 + index * 12
            guard let tag = u16(at), let type = u16(at + 2), let number = u32(at + 4), let value = u32(at + 8) else {
                return nil
            }
            entries.append(Entry(tag: tag, type: type, count: number, value: value))
        }
        guard let next = u32(Int(first) + 2 + Int(count) * 12) else { return nil }
        self.entries = entries
        self.nextDirectoryOffset = next
    }

    func has(_ tag: UInt16) -> Bool { entries.contains { $0.tag == tag } }

    static let exifPointer: UInt16 = 0x8769
    static let gpsPointer: UInt16 = 0x8825
    static let orientation: UInt16 = 0x0112

    /// Items for directories IFD0 points at but libexif reported nothing from.
    static func unreportedDirectories<C: Collection>(tiff: C, reported: [MetadataItem], offset: Int?) -> [MetadataItem]
    where C.Element == UInt8 {
        guard let directory = TIFFDirectory(tiff: tiff) else { return [] }
        var items: [MetadataItem] = []
        if directory.has(gpsPointer) && !reported.contains(where: { $0.family == "GPS" }) {
            items.append(
                MetadataItem(family: "GPS", name: "GPS directory (libexif could not read its entries)", offset: offset))
        }
        if directory.has(exifPointer) && !reported.contains(where: { $0.family == "EXIF" }) {
            items.append(
                MetadataItem(
                    family: "EXIF", name: "Exif directory (libexif could not read its entries)", offset: offset))
        }
        if directory.nextDirectoryOffset != 0 && !reported.contains(where: { $0.family == "EXIF IFD1" }) {
            items.append(MetadataItem(family: "EXIF IFD1", name: "IFD1 (thumbnail directory)", offset: offset))
        }
        return items
    }

    /// True when the block is exactly one IFD0 entry, Orientation, and nothing after it.
    static func isOrientationOnly<C: Collection>(tiff: C) -> Bool where C.Element == UInt8 {
        guard let directory = TIFFDirectory(tiff: tiff) else { return false }
        return directory.entries.count == 1 && directory.entries[0].tag == orientation
            && directory.entries[0].count == 1
            && directory.nextDirectoryOffset == 0
    }
}
