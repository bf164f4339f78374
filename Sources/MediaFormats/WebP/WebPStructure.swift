import ByteKit

/// One RIFF chunk of a WebP file.
public struct WebPChunk: Sendable, Equatable {
    public var fourCC: String
    /// Offset of the chunk header.
    public var offset: Int
    public var payload: Range<Int>
    /// For ANMF: the frame's own chunks (after its 16-byte header).
    public var frameChunks: [WebPChunk] = []
}

/// The structure of a WebP file (RIFF): its chunks in order and anything after the RIFF payload.
public struct WebPStructure: Sendable, PictureStructure {
    public var chunks: [WebPChunk]
    public var trailer: Range<Int>?

    static func fourCC(_ bytes: [UInt8], _ at: Int) -> String { String(decoding: bytes[at..<at + 4], as: UTF8.self) }
    static func le32(_ bytes: [UInt8], _ at: Int) -> Int {
        Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
    }

    /// Walks `bytes` as WebP. Total: any input gives a structure or a `MediaError` that says where.
    public init(parsing bytes: [UInt8]) throws(MediaError) {
        func fail(_ reason: String) -> MediaError { .malformed(format: "WebP", reason: reason) }
        guard bytes.count >= 12, WebPStructure.fourCC(bytes, 0) == "RIFF", WebPStructure.fourCC(bytes, 8) == "WEBP"
        else {
            throw fail("no RIFF/WEBP header")
        }
        let riffEnd = 8 + WebPStructure.le32(bytes, 4)
        guard riffEnd >= 12 else { throw fail("RIFF size too small") }
        guard riffEnd <= bytes.count else {
            throw fail("truncated: the RIFF size says \(riffEnd) bytes, the file has \(bytes.count)")
        }
        var budget = StructureLimits.webpChunks
        chunks = try WebPStructure.chunks(bytes, 12..<riffEnd, nested: false, budget: &budget)
        guard let first = chunks.first, ["VP8 ", "VP8L", "VP8X"].contains(first.fourCC) else {
            throw fail("the first chunk is not VP8, VP8L or VP8X")
        }
        let frames = chunks.filter { $0.fourCC == "ANMF" }
        guard
            chunks.contains(where: { $0.fourCC == "VP8 " || $0.fourCC == "VP8L" })
                || frames.contains(where: { $0.frameChunks.contains { $0.fourCC == "VP8 " || $0.fourCC == "VP8L" } })
        else { throw fail("no image data (no VP8 or VP8L chunk)") }
        trailer = riffEnd < bytes.count ? riffEnd..<bytes.count : nil
    }

    static func chunks(_ bytes: [UInt8], _ range: Range<Int>, nested: Bool, budget: inout Int) throws(MediaError)
        -> [WebPChunk]
    {
        func fail(_ reason: String) -> MediaError { .malformed(format: "WebP", reason: reason) }
        var chunks: [WebPChunk] = []
        var position = range.lowerBound
        while position < range.upperBound {
            guard range.upperBound - position >= 8 else { throw fail("truncated chunk header at offset \(position)") }
            // Any four bytes name a chunk (writers exist that use "XMP\0"); unknown ones are dropped anyway.
            let name = String(
                bytes[position..<position + 4].map { $0 >= 0x20 && $0 < 0x7F ? Character(Unicode.Scalar($0)) : "?" })
            let size = le32(bytes, position + 4)
            let start = position + 8
            guard size <= range.upperBound - start else {
                throw fail("truncated: chunk \(name) at offset \(position) runs past the end of its container")
            }
            var chunk = WebPChunk(fourCC: name, offset: position, payload: start..<start + size)
            if name == "ANMF" {
                guard !nested else { throw fail("a frame inside a frame at offset \(position)") }
                guard size >= 16 else { throw fail("ANMF chunk at offset \(position) is shorter than its header") }
                chunk.frameChunks = try WebPStructure.chunks(
                    bytes, (start + 16)..<(start + size), nested: true, budget: &budget)
            }
            budget -= 1
            guard budget >= 0 else { throw StructureLimits.tooMany("chunks", StructureLimits.webpChunks) }
            chunks.append(chunk)
            position = start + size + (size & 1)
            if position > range.upperBound { position = range.upperBound }  // a final pad byte may be missing
        }
        return chunks
    }
}
