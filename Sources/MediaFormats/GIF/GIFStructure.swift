import ByteKit

/// One block of a GIF file.
public struct GIFBlock: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case screen  // header, logical screen descriptor and global colour table
        case image  // image descriptor, local colour table and LZW data
        case graphicControl
        case application(String)
        case comment
        case plainText
        case otherExtension(UInt8)
    }

    public var kind: Kind
    public var range: Range<Int>

    public var name: String {
        switch kind {
        case .screen: return "screen descriptor"
        case .image: return "image"
        case .graphicControl: return "graphic control"
        case .application(let id): return "application extension \(id)"
        case .comment: return "comment"
        case .plainText: return "plain text"
        case .otherExtension(let label): return "extension 0x" + String(label, radix: 16)
        }
    }
}

/// The structure of a GIF file: its blocks in order, and anything after the trailer.
public struct GIFStructure: Sendable, PictureStructure {
    public var blocks: [GIFBlock]
    public var trailer: Range<Int>?
    /// The file ended after a complete block without the 0x3B trailer (decoders accept it; the output gets one).
    public var missingTrailer = false

    /// Walks `bytes` as a GIF. Total: any input gives a structure or a `MediaError` that says where.
    public init(parsing bytes: [UInt8]) throws(MediaError) {
        func fail(_ reason: String) -> MediaError { .malformed(format: "GIF", reason: reason) }
        guard bytes.count >= 13, bytes.starts(with: Array("GIF87a".utf8)) || bytes.starts(with: Array("GIF89a".utf8))
        else {
            throw fail("no GIF87a/GIF89a header")
        }
        var position = 13
        if bytes[10] & 0x80 != 0 { position += 3 << ((Int(bytes[10]) & 7) + 1) }
        guard position <= bytes.count else { throw fail("truncated global colour table") }
        var blocks = [GIFBlock(kind: .screen, range: 0..<position)]
        // Data sub-blocks: a size byte and that many bytes, until a zero size.
        func subBlocks(from start: Int) throws(MediaError) -> Int {
            var at = start
            while true {
                guard at < bytes.count else { throw fail("truncated: data sub-blocks run past the end of the file") }
                let size = Int(bytes[at])
                at += 1
                if size == 0 { return at }
                guard size <= bytes.count - at else {
                    throw fail("truncated: a data sub-block at offset \(at - 1) runs past the end")
                }
                at += size
            }
        }
        while true {
            guard position < bytes.count else {
                guard blocks.contains(where: { $0.kind == .image }) else {
                    throw fail("truncated: no image before the end of the file")
                }
                missingTrailer = true
                break
            }
            let start = position
            guard blocks.count < StructureLimits.gifBlocks else {
                throw StructureLimits.tooMany("blocks", StructureLimits.gifBlocks)
            }
            switch bytes[position] {
            case 0x3B:
                position += 1
                self.blocks = blocks
                self.trailer = position < bytes.count ? position..<bytes.count : nil
                guard blocks.contains(where: { $0.kind == .image }) else { throw fail("no image data") }
                return
            case 0x2C:
                guard bytes.count - position >= 11 else {
                    throw fail("truncated image descriptor at offset \(position)")
                }
                let packed = bytes[position + 9]
                position += 10
                if packed & 0x80 != 0 { position += 3 << ((Int(packed) & 7) + 1) }
                guard position < bytes.count else { throw fail("truncated local colour table at offset \(start)") }
                position += 1  // LZW minimum code size
                position = try subBlocks(from: position)
                blocks.append(GIFBlock(kind: .image, range: start..<position))
            case 0x21:
                guard bytes.count - position >= 2 else { throw fail("truncated extension at offset \(position)") }
                let label = bytes[position + 1]
                let kind: GIFBlock.Kind
                switch label {
                case 0xF9: kind = .graphicControl
                case 0xFE: kind = .comment
                case 0x01: kind = .plainText
                case 0xFF:
                    let idStart = position + 3
                    let id =
                        bytes.count - idStart >= 11 && bytes[position + 2] == 11
                        ? String(decoding: bytes[idStart..<idStart + 11], as: UTF8.self) : "?"
                    kind = .application(id)
                default: kind = .otherExtension(label)
                }
                position = try subBlocks(from: position + 2)
                blocks.append(GIFBlock(kind: kind, range: start..<position))
            default:
                throw fail("unknown block 0x\(String(bytes[position], radix: 16)) at offset \(position)")
            }
        }
        self.blocks = blocks
        self.trailer = nil
    }
}
