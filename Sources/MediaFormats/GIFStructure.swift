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
public struct GIFStructure: Sendable {
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

/// Lossless GIF sanitizing: screen descriptor and colour tables, images, graphic control and the NETSCAPE/ANIMEXTS
/// looping extension kept byte for byte; comments, plain text and other application extensions (XMP, ICC) dropped.
enum GIFSanitizer {
    static func keeps(_ kind: GIFBlock.Kind) -> Bool {
        switch kind {
        case .screen, .image, .graphicControl: return true
        case .application(let id): return id == "NETSCAPE2.0" || id == "ANIMEXTS1.0"
        default: return false
        }
    }

    static func isCoded(_ kind: GIFBlock.Kind) -> Bool { kind == .screen || kind == .image || kind == .graphicControl }

    /// A looping extension as published: its defined form, one 3-byte sub-block (1, loop count) and the terminator,
    /// 19 bytes in all; whatever other sub-blocks it carries are not copied. Nil when its first sub-block is not that
    /// (no decoder loops on it): it is dropped.
    static func loopBlock(_ bytes: [UInt8], _ block: GIFBlock) -> [UInt8]? {
        let start = block.range.lowerBound
        guard case .application = block.kind, keeps(block.kind), block.range.count >= 19, bytes[start + 14] == 3,
            bytes[start + 15] == 1
        else { return nil }
        return Array(bytes[start..<(start + 18)]) + [0]
    }

    /// A graphic control extension has one 4-byte sub-block: 8 bytes in all.
    static func checkGraphicControl(_ bytes: [UInt8], _ block: GIFBlock) throws(MediaError) {
        guard block.range.count == 8, bytes[block.range.lowerBound + 2] == 4 else {
            throw .malformed(
                format: "GIF",
                reason: "graphic control extension at offset \(block.range.lowerBound) is \(block.range.count) bytes, not 8")
        }
    }

    /// `content_sha256` of a GIF: SHA-256 over the header with the logical screen descriptor (its pixel-aspect
    /// byte taken as 0) and global colour table, and every graphic control extension and image (descriptor, local
    /// colour table, LZW data), in file order, byte for byte. Comments and application extensions are excluded.
    static func contentSHA256(_ bytes: [UInt8], _ structure: GIFStructure) -> String {
        var hasher = RangeHasher()
        for block in structure.blocks where isCoded(block.kind) {
            if block.kind == .screen {
                hasher.update(bytes, 0..<12)
                hasher.update([0])
                hasher.update(bytes, 13..<block.range.upperBound)
            } else {
                hasher.update(bytes, block.range)
            }
        }
        return hasher.finalize()
    }

    static func sanitize(_ bytes: [UInt8], _ structure: GIFStructure) throws(MediaError) -> (
        output: [UInt8], orientation: Int?, removed: [String]
    ) {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var removed = RemovedLog()
        for block in structure.blocks {
            if block.kind == .screen {
                // The pixel-aspect byte is written as 0 ("no information"): decoders ignore it, and it is not on
                // the list of structural tags leakcheck accepts.
                output += bytes[0..<12] + [0] + bytes[13..<block.range.upperBound]
                if bytes[12] != 0 { removed.note("pixel aspect", "pixel aspect ratio byte") }
            } else if case .application = block.kind, keeps(block.kind) {
                if let loop = loopBlock(bytes, block) {
                    output += loop
                    if block.range.count > loop.count {
                        removed.note(
                            "loop extension data",
                            "\(block.range.count - loop.count) bytes after the loop count of \(block.name) at offset \(block.range.lowerBound)")
                    }
                } else {
                    removed.note(block.name, "\(block.name) at offset \(block.range.lowerBound) (not a loop count)")
                }
            } else if keeps(block.kind) {
                if block.kind == .graphicControl { try checkGraphicControl(bytes, block) }
                output += bytes[block.range]
            } else {
                removed.note(block.name, "\(block.name) at offset \(block.range.lowerBound)")
            }
        }
        output.append(0x3B)
        if let trailer = structure.trailer { removed.note("trailer", "\(trailer.count) bytes after the GIF trailer") }
        return (output, nil, removed.summary)
    }

    static func verify(_ output: [UInt8], expectedContent: String) throws(MediaError) {
        func fail(_ why: String) -> MediaError { .verificationFailed(why) }
        let structure: GIFStructure
        do { structure = try GIFStructure(parsing: output) } catch { throw fail("output does not parse: \(error)") }
        guard structure.trailer == nil, !structure.missingTrailer else {
            throw fail("output has data after its trailer")
        }
        guard output[12] == 0 else { throw fail("pixel aspect byte left in the output") }
        for block in structure.blocks {
            guard keeps(block.kind) else { throw fail("\(block.name) left in the output") }
            if case .application = block.kind {
                guard let loop = loopBlock(output, block), loop.count == block.range.count else {
                    throw fail("\(block.name) is not its defined 19 bytes")
                }
            }
            if block.kind == .graphicControl {
                do { try checkGraphicControl(output, block) } catch { throw fail("\(error)") }
            }
        }
        guard contentSHA256(output, structure) == expectedContent else {
            throw fail("coded image data (content_sha256) changed")
        }
    }
}
