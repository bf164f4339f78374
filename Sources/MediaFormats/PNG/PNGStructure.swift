import ByteKit
internal import CMediaShims

/// One PNG chunk: 4-byte length, 4-byte type, data, CRC-32.
public struct PNGChunk: Sendable, Equatable {
    public var type: String
    /// Offset of the chunk's length field.
    public var offset: Int
    public var data: Range<Int>
    public var crcValid: Bool

    /// Every byte of the chunk, length field to CRC.
    public var bytes: Range<Int> { offset..<(data.upperBound + 4) }
    /// A critical chunk (upper-case first letter) must be understood to decode the picture.
    public var isCritical: Bool { type.utf8.first.map { $0 & 0x20 == 0 } ?? true }
}

/// The structure of a PNG file: its chunks in order and anything after IEND.
public struct PNGStructure: Sendable, PictureStructure {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    public var chunks: [PNGChunk]
    public var trailer: Range<Int>?

    /// Walks `bytes` as a PNG. Total: any input gives a structure or a `MediaError` that says where.
    public init(parsing bytes: [UInt8]) throws(MediaError) {
        func fail(_ reason: String) -> MediaError { .malformed(format: "PNG", reason: reason) }
        guard bytes.count >= 8, Array(bytes[0..<8]) == PNGStructure.signature else {
            throw fail("no PNG signature at the start")
        }
        var chunks: [PNGChunk] = []
        var position = 8
        while true {
            guard position + 8 <= bytes.count else {
                throw fail("truncated: no IEND chunk (the file ends at offset \(bytes.count))")
            }
            let length = bytes[position..<position + 4].reduce(0) { $0 << 8 | Int($1) }
            let typeBytes = bytes[(position + 4)..<(position + 8)]
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw fail("invalid chunk type at offset \(position)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= 0x7FFF_FFFF else {
                throw fail("chunk \(type) at offset \(position) declares length \(length)")
            }
            let dataStart = position + 8
            guard length <= bytes.count - dataStart, bytes.count - dataStart - length >= 4 else {
                throw fail("truncated: chunk \(type) at offset \(position) runs past the end of the file")
            }
            let dataEnd = dataStart + length
            let stored = bytes[dataEnd..<dataEnd + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let computed = bytes.withUnsafeBufferPointer { buffer in
                cgshim_crc32(0, buffer.baseAddress! + position + 4, length + 4)
            }
            let chunk = PNGChunk(type: type, offset: position, data: dataStart..<dataEnd, crcValid: stored == computed)
            if chunk.isCritical && !chunk.crcValid {
                throw fail("CRC mismatch in chunk \(type) at offset \(position)")
            }
            if chunks.isEmpty {
                guard type == "IHDR", length == 13 else { throw fail("the first chunk is \(type), not a 13-byte IHDR") }
            } else if type == "IHDR" {
                throw fail("a second IHDR chunk at offset \(position)")
            }
            guard chunks.count < StructureLimits.pngChunks else {
                throw StructureLimits.tooMany("chunks", StructureLimits.pngChunks)
            }
            chunks.append(chunk)
            position = dataEnd + 4
            if type == "IEND" { break }
        }
        guard chunks.contains(where: { $0.type == "IDAT" }) else { throw fail("no image data (no IDAT chunk)") }
        self.chunks = chunks
        self.trailer = position < bytes.count ? position..<bytes.count : nil
    }
}
