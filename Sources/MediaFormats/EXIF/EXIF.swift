import ByteKit
internal import CExif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// EXIF read and written through libexif.
public enum EXIF {
    /// What libexif found in one EXIF block.
    public struct Contents: Sendable {
        public var items: [MetadataItem] = []
        /// IFD0 Orientation when it holds a valid value (1–8).
        public var orientation: Int?
        /// Entries other than IFD0 Orientation, across all IFDs.
        public var otherEntryCount = 0
        public var thumbnailBytes = 0
        public var makerNoteEntryCount = 0
    }

    static let header: [UInt8] = Array("Exif\0\0".utf8)

    /// Parses a TIFF-structured EXIF block (without the "Exif\0\0" header). Nil when libexif reads nothing.
    public static func read<C: Collection>(tiff: C, offset: Int? = nil) -> Contents? where C.Element == UInt8 {
        guard let data = exif_data_new() else { return nil }
        defer { exif_data_unref(data) }
        exif_data_unset_option(data, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS)
        exif_data_unset_option(data, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION)
        let buffer = header + Array(tiff)
        guard buffer.count < Int(UInt32.max) else { return nil }
        buffer.withUnsafeBufferPointer { exif_data_load_data(data, $0.baseAddress, UInt32($0.count)) }

        let collector = Collector(offset: offset)
        let context = Unmanaged.passUnretained(collector).toOpaque()
        exif_data_foreach_content(
            data,
            { content, context in
                guard let content, let context else { return }
                exif_content_foreach_entry(
                    content,
                    { entry, context in
                        guard let entry, let context else { return }
                        Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue().add(entry)
                    }, context)
            }, context)
        var contents = collector.contents
        contents.thumbnailBytes = Int(data.pointee.size)
        if contents.thumbnailBytes > 0 {
            contents.items.append(
                MetadataItem(family: "EXIF", name: "Thumbnail image", offset: offset, bytes: contents.thumbnailBytes))
        }
        if let notes = exif_data_get_mnote_data(data) {
            let count = exif_mnote_data_count(notes)
            contents.makerNoteEntryCount = Int(count)
            var text = [CChar](repeating: 0, count: 256)
            for index in 0..<count {
                let name = exif_mnote_data_get_name(notes, index).map { String(cString: $0) } ?? "entry \(index)"
                let value = exif_mnote_data_get_value(notes, index, &text, UInt32(text.count)).map {
                    String(cString: $0)
                }
                contents.items.append(MetadataItem(family: "MakerNote", name: name, value: value, offset: offset))
            }
        }
        contents.items += TIFFDirectory.unreportedDirectories(tiff: tiff, reported: contents.items, offset: offset)
        contents.otherEntryCount += contents.items.filter { $0.name.hasSuffix("could not read its entries)") }.count
        if contents.items.isEmpty && contents.orientation == nil { return nil }
        return contents
    }

    /// Collects entries during libexif's callbacks.
    private final class Collector {
        var contents = Contents()
        let offset: Int?
        init(offset: Int?) { self.offset = offset }

        func add(_ entry: UnsafeMutablePointer<ExifEntry>) {
            let ifd = entry.pointee.parent.map { exif_content_get_ifd($0) } ?? EXIF_IFD_COUNT
            let tag = entry.pointee.tag
            if ifd == EXIF_IFD_0 && tag == EXIF_TAG_ORIENTATION {
                if entry.pointee.format == EXIF_FORMAT_SHORT, entry.pointee.components >= 1, entry.pointee.size >= 2,
                    let bytes = entry.pointee.data, let parent = entry.pointee.parent, let owner = parent.pointee.parent
                {
                    let value = Int(exif_get_short(bytes, exif_data_get_byte_order(owner)))
                    if (1...8).contains(value) { contents.orientation = value }
                }
            } else {
                contents.otherEntryCount += 1
            }
            let family: String
            switch ifd {
            case EXIF_IFD_GPS: family = "GPS"
            case EXIF_IFD_1: family = "EXIF IFD1"
            case EXIF_IFD_INTEROPERABILITY: family = "EXIF Interop"
            case EXIF_IFD_EXIF: family = "EXIF"
            default: family = "EXIF IFD0"
            }
            let name: String
            if let cName = exif_tag_get_name_in_ifd(tag, ifd) {
                name = String(cString: cName)
            } else {
                name = "Tag 0x" + String(tag.rawValue, radix: 16)
            }
            var text = [CChar](repeating: 0, count: 256)
            let value = exif_entry_get_value(entry, &text, UInt32(text.count)).map {
                EXIF.forPeople(String(cString: $0))
            }
            contents.items.append(MetadataItem(family: family, name: name, value: value, offset: offset))
        }
    }

    /// libexif's words for a value it has no name for ("Internal error (unknown value 1)"), said for people: the
    /// number, and that the standard names no meaning for it.
    static func forPeople(_ value: String) -> String {
        guard value.hasPrefix("Internal error") else { return value }
        let number = value.split(whereSeparator: { !$0.isNumber }).last.map(String.init)
        return number.map { "\($0) (a value the EXIF standard gives no name)" } ?? "(a value the EXIF standard gives no name)"
    }

    /// A minimal EXIF block, built with libexif, holding nothing but IFD0 Orientation.
    /// Returned with the "Exif\0\0" header (as in a JPEG APP1 segment).
    public static func minimalOrientationBlock(_ orientation: Int) -> [UInt8]? {
        guard (1...8).contains(orientation), let data = exif_data_new() else { return nil }
        defer { exif_data_unref(data) }
        exif_data_unset_option(data, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION)
        exif_data_set_byte_order(data, EXIF_BYTE_ORDER_MOTOROLA)
        guard let ifd0 = data.pointee.ifd.0, let entry = exif_entry_new() else { return nil }
        exif_content_add_entry(ifd0, entry)
        exif_entry_initialize(entry, EXIF_TAG_ORIENTATION)
        guard let storage = entry.pointee.data, entry.pointee.size >= 2 else {
            exif_entry_unref(entry)
            return nil
        }
        exif_set_short(storage, EXIF_BYTE_ORDER_MOTOROLA, ExifShort(orientation))
        exif_entry_unref(entry)
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt32 = 0
        exif_data_save_data(data, &output, &size)
        guard let output, size > 6 else { return nil }
        defer { free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }
}
