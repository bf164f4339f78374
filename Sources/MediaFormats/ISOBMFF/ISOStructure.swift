import ByteKit

/// One ISO base media file format box (MP4, MOV, 3GP, HEIC, HEIF, AVIF).
public struct ISOBox: Sendable, Equatable {
    public var type: String
    public var offset: Int
    public var headerSize: Int
    public var size: Int
    public var depth: Int
    /// The types of the boxes it lies in, outermost first, and its own: "moov/trak/mdia/hdlr".
    public var path: String

    public var payload: Range<Int> { (offset + headerSize)..<(offset + size) }
}

/// The box tree of an ISO-BMFF file, read from headers only (media data is never read). Total: any input
/// gives a structure or a `MediaError` naming the box and offset; 64-bit sizes, size 0 ("to the end"),
/// nesting and box-count limits.
public struct ISOStructure: Sendable {
    public var boxes: [ISOBox]
    /// An Insta360 trailer after the last top-level box (serial number, GPS track, ...), when there is one.
    public var trailer: Range<Int>?

    /// The ASCII text an Insta360 camera ends its trailer with.
    static let insta360Marker = Array("8db42d694ccc418790edff439fe026bf".utf8)
    /// The fixed end of an Insta360 trailer: its last 78 bytes hold the trailer's length (4 bytes, little-endian)
    /// 38 bytes in, and end with the marker.
    static let insta360TailLength = 78

    static let containers: Set<String> = [
        "moov", "trak", "mdia", "minf", "stbl", "udta", "edts", "dinf", "iprp", "ipco", "moof", "traf", "mvex", "tref",
        "ilst", "meta", "iinf", "iref", "sinf", "schi", "gmhd", "tapt", "clip", "matt",
    ]
    /// Containers whose children start after a version-and-flags word (and, for iinf, an entry count).
    static func childOffset(_ type: String, _ source: FileSource, _ box: Range<Int>) throws(MediaError) -> Int {
        switch type {
        case "meta":
            // ISO 'meta' is a full box (version and flags first); QuickTime's is not: its first child, a size
            // and "hdlr", starts right away.
            guard box.count >= 8 else { return 0 }
            let head = try source.read(box.lowerBound..<(box.lowerBound + 8))
            return head[4..<8].elementsEqual(Array("hdlr".utf8)) ? 0 : 4
        case "iref": return 4
        case "iinf":
            guard box.count >= 6 else { return box.count }
            let version = try source.read(box.lowerBound..<(box.lowerBound + 1))[0]
            return 4 + (version == 0 ? 2 : 4)
        default: return 0
        }
    }

    public static let maxDepth = 16
    public static let maxBoxes = 100_000

    public init(source: FileSource) throws(MediaError) {
        var boxes: [ISOBox] = []
        if let start = try ISOStructure.insta360TrailerStart(source),
            (try? ISOStructure.walk(source, 0..<start, depth: 0, path: "", into: &boxes)) != nil
        {
            trailer = start..<source.count
        } else {
            boxes = []
            try ISOStructure.walk(source, 0..<source.count, depth: 0, path: "", into: &boxes)
        }
        guard boxes.contains(where: { $0.type == "moov" || $0.type == "meta" }) else {
            throw .malformed(format: "ISO-BMFF", reason: "no moov or meta box (nothing describes the media)")
        }
        self.boxes = boxes
    }

    /// Where an Insta360 trailer starts, when the file ends with one: the marker, and a length that leaves room
    /// for boxes before it. The boxes before it must then be whole (the caller walks them); a file that is merely
    /// cut off has no marker and stays truncated.
    static func insta360TrailerStart(_ source: FileSource) throws(MediaError) -> Int? {
        guard source.count >= insta360TailLength + 8 else { return nil }
        let tail = try source.read((source.count - insta360TailLength)..<source.count)
        guard tail.suffix(insta360Marker.count).elementsEqual(insta360Marker) else { return nil }
        let length = (0..<4).reduce(0) { $0 | Int(tail[38 + $1]) << (8 * $1) }
        guard length >= insta360TailLength, length <= source.count - 8 else { return nil }
        return source.count - length
    }

    static func walk(_ source: FileSource, _ range: Range<Int>, depth: Int, path: String, into boxes: inout [ISOBox])
        throws(MediaError)
    {
        func fail(_ reason: String) -> MediaError { .malformed(format: "ISO-BMFF", reason: reason) }
        guard depth <= maxDepth else {
            throw fail("boxes nested deeper than \(maxDepth) levels at offset \(range.lowerBound)")
        }
        var position = range.lowerBound
        while position < range.upperBound {
            guard range.upperBound - position >= 8 else {
                // Trailing zero padding inside a container is harmless; anything else is a cut-off header.
                let rest = try source.read(position..<range.upperBound)
                if rest.allSatisfy({ $0 == 0 }) { return }
                throw fail("truncated box header at offset \(position)")
            }
            let head = try source.read(position..<(position + 8))
            var size = head[0..<4].reduce(0) { $0 << 8 | Int($1) }
            let type = String(
                head[4..<8].map { $0 >= 0x20 && $0 < 0x7F ? Character(Unicode.Scalar($0)) : ($0 == 0xA9 ? "©" : "?") })
            var header = 8
            if size == 1 {
                guard range.upperBound - position >= 16 else {
                    throw fail("truncated 64-bit box size at offset \(position)")
                }
                let large = try source.read((position + 8)..<(position + 16)).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                guard large <= UInt64(Int.max) else {
                    throw fail("box \(type) at offset \(position) declares an impossible size")
                }
                size = Int(large)
                header = 16
            } else if size == 0 {
                size = range.upperBound - position
            }
            guard size >= header else {
                throw fail("box \(type) at offset \(position) declares size \(size), less than its header")
            }
            guard size <= range.upperBound - position else {
                throw fail(
                    "truncated: box \(type) at offset \(position) runs past the end of \(path.isEmpty ? "the file" : path)"
                )
            }
            if type == "uuid" { header += min(16, size - header) }
            let box = ISOBox(
                type: type, offset: position, headerSize: header, size: size, depth: depth,
                path: path.isEmpty ? type : path + "/" + type)
            boxes.append(box)
            guard boxes.count <= maxBoxes else { throw fail("more than \(maxBoxes) boxes") }
            if containers.contains(type) && !(type == "meta" && path.hasSuffix("ilst")) {
                let skip = try childOffset(type, source, box.payload)
                if skip < box.payload.count {
                    try walk(
                        source, (box.payload.lowerBound + skip)..<box.payload.upperBound, depth: depth + 1,
                        path: box.path, into: &boxes)
                }
            } else if path.hasSuffix("/ilst") || path == "ilst" {
                // Each item atom of a metadata list holds 'data' boxes.
                try walk(source, box.payload, depth: depth + 1, path: box.path, into: &boxes)
            }
            position += size
        }
    }
}
