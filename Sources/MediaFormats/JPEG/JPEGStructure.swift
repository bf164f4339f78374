import ByteKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a JPEG segment is, as far as ConsentGate cares.
public enum JPEGSegmentKind: String, Codable, Sendable {
    case jfif, jfxx, exif, xmp, xmpExtended, icc, mpf, flashPix, photoshopIRB, adobe, otherApp, comment
    case quantizationTable, huffmanTable, arithmeticConditioning, frame, restartInterval, scan
    case numberOfLines, hierarchical, expandReference

    /// Segments needed to decode the coded image; these make up `content_sha256`.
    public var isCodedImageData: Bool {
        switch self {
        case .quantizationTable, .huffmanTable, .arithmeticConditioning, .frame, .restartInterval, .scan,
            .numberOfLines, .hierarchical, .expandReference:
            return true
        default:
            return false
        }
    }
}

/// One marker segment of a JPEG file. For a scan, the entropy-coded data that follows belongs to it.
public struct JPEGSegment: Sendable, Equatable {
    public var marker: UInt8
    public var kind: JPEGSegmentKind
    /// Offset of the 0xFF that starts the marker.
    public var offset: Int
    /// The bytes after the two length bytes.
    public var payload: Range<Int>
    /// For a scan: the entropy-coded data after the scan header.
    public var scanData: Range<Int>?

    /// Every byte of the segment, from the marker to the end of its payload or scan data.
    public var bytes: Range<Int> { offset..<(scanData?.upperBound ?? payload.upperBound) }

    public var name: String {
        switch marker {
        case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC: return "SOF\(marker - 0xC0)"
        case 0xC4: return "DHT"
        case 0xCC: return "DAC"
        case 0xDA: return "SOS"
        case 0xDB: return "DQT"
        case 0xDC: return "DNL"
        case 0xDD: return "DRI"
        case 0xDE: return "DHP"
        case 0xDF: return "EXP"
        case 0xE0...0xEF: return "APP\(marker - 0xE0)"
        case 0xFE: return "COM"
        default: return String(format2: marker)
        }
    }
}

extension String {
    init(format2 marker: UInt8) {
        let hex = String(marker, radix: 16, uppercase: true)
        self = "marker 0xFF" + (hex.count == 1 ? "0" + hex : hex)
    }
}

/// The structure of a JPEG file: its segments in order, where the image ends and what follows it.
public struct JPEGStructure: Sendable, PictureStructure {
    public var segments: [JPEGSegment]
    /// Offset of the EOI marker that ends the primary image.
    public var endOfImage: Int
    /// Bytes after EOI (appended previews, MPO frames, vendor trailers).
    public var trailer: Range<Int>?
    /// Stray bytes between segments that a decoder skips (each: offset and count).
    public var strayBytes: [(offset: Int, count: Int)]

    /// Walks `bytes` as a JPEG. Total: any input gives a structure or a `MediaError` that says where.
    public init(parsing bytes: [UInt8]) throws(MediaError) {
        let count = bytes.count
        func fail(_ reason: String) -> MediaError { .malformed(format: "JPEG", reason: reason) }
        guard count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { throw fail("no SOI marker at the start") }
        var segments: [JPEGSegment] = []
        var stray: [(offset: Int, count: Int)] = []
        var position = 2
        var sawFrame = false
        var sawScan = false
        while true {
            // Anything but a marker here is stray data that decoders skip; note it and move on.
            let strayStart = position
            while position < count {
                if bytes[position] == 0xFF, position + 1 < count, bytes[position + 1] != 0x00 { break }
                position += 1
            }
            if position > strayStart { stray.append((strayStart, position - strayStart)) }
            guard segments.count + stray.count < StructureLimits.jpegSegments else {
                throw StructureLimits.tooMany("segments", StructureLimits.jpegSegments)
            }
            guard position + 1 < count else {
                throw fail(
                    sawScan
                        ? "truncated: no EOI marker after the scan" : "truncated: the file ends before any image data")
            }
            while position + 1 < count, bytes[position + 1] == 0xFF { position += 1 }  // fill bytes
            guard position + 1 < count else { throw fail("truncated: the file ends in fill bytes") }
            let markerOffset = position
            let marker = bytes[position + 1]
            position += 2
            switch marker {
            case 0xD9:
                guard sawFrame, sawScan else {
                    throw fail("no image data: EOI at offset \(markerOffset) before any frame and scan")
                }
                self.segments = segments
                self.endOfImage = markerOffset
                self.trailer = position < count ? position..<count : nil
                self.strayBytes = stray
                return
            case 0xD8:
                throw fail("a second SOI marker at offset \(markerOffset) inside the image")
            case 0xD0...0xD7, 0x01:
                throw fail("\(String(format2: marker)) outside a scan at offset \(markerOffset)")
            default:
                break
            }
            guard position + 2 <= count else {
                throw fail("truncated: segment at offset \(markerOffset) has no length")
            }
            let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
            guard length >= 2 else {
                throw fail("segment at offset \(markerOffset) declares an impossible length \(length)")
            }
            let payloadStart = position + 2
            let payloadEnd = position + length
            guard payloadEnd <= count else {
                throw fail("truncated: segment at offset \(markerOffset) runs past the end of the file")
            }
            guard let kind = JPEGStructure.kind(marker: marker, bytes: bytes, payload: payloadStart..<payloadEnd) else {
                throw fail("unknown \(String(format2: marker)) at offset \(markerOffset)")
            }
            var segment = JPEGSegment(
                marker: marker, kind: kind, offset: markerOffset, payload: payloadStart..<payloadEnd)
            position = payloadEnd
            if kind == .frame {
                guard !sawFrame else { throw fail("a second frame header at offset \(markerOffset)") }
                sawFrame = true
            }
            if kind == .scan {
                guard sawFrame else { throw fail("scan at offset \(markerOffset) before any frame header") }
                sawScan = true
                guard let end = JPEGStructure.endOfEntropyData(bytes, from: position) else {
                    throw fail("truncated: no EOI marker after the scan")
                }
                segment.scanData = position..<end
                position = end
            }
            segments.append(segment)
        }
    }

    /// The end of entropy-coded data: the first 0xFF followed by a byte that is not a stuffed zero,
    /// a restart marker or another fill byte. Nil when the file ends first.
    static func endOfEntropyData(_ bytes: [UInt8], from start: Int) -> Int? {
        bytes.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress else { return nil }
            let count = buffer.count
            var position = start
            while position < count {
                guard let hit = memchr(base + position, 0xFF, count - position) else { return nil }
                let at = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
                var next = at + 1
                while next < count, base[next] == 0xFF { next += 1 }
                guard next < count else { return nil }
                let marker = base[next]
                if marker == 0x00 || (0xD0...0xD7).contains(marker) {
                    position = next + 1
                    continue
                }
                return at
            }
            return nil
        }
    }

    static func kind(marker: UInt8, bytes: [UInt8], payload: Range<Int>) -> JPEGSegmentKind? {
        func startsWith(_ text: String) -> Bool {
            let signature = Array(text.utf8)
            return payload.count >= signature.count
                && bytes[payload.lowerBound..<payload.lowerBound + signature.count].elementsEqual(signature)
        }
        switch marker {
        case 0xC4: return .huffmanTable
        case 0xCC: return .arithmeticConditioning
        case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF: return .frame
        case 0xDA: return .scan
        case 0xDB: return .quantizationTable
        case 0xDC: return .numberOfLines
        case 0xDD: return .restartInterval
        case 0xDE: return .hierarchical
        case 0xDF: return .expandReference
        case 0xFE: return .comment
        case 0xE0:
            if startsWith("JFIF\0") { return .jfif }
            if startsWith("JFXX\0") { return .jfxx }
            return .otherApp
        case 0xE1:
            if startsWith("Exif\0") { return .exif }
            if startsWith("http://ns.adobe.com/xap/1.0/\0") { return .xmp }
            if startsWith("http://ns.adobe.com/xmp/extension/\0") { return .xmpExtended }
            return .otherApp
        case 0xE2:
            if startsWith("ICC_PROFILE\0") { return .icc }
            if startsWith("MPF\0") { return .mpf }
            if startsWith("FPXR\0") { return .flashPix }
            return .otherApp
        case 0xED:
            return startsWith("Photoshop 3.0\0") ? .photoshopIRB : .otherApp
        case 0xEE:
            return startsWith("Adobe") ? .adobe : .otherApp
        case 0xE3...0xEC, 0xEF:
            return .otherApp
        default:
            return nil
        }
    }
}
