import ByteKit

/// Lossless GIF sanitizing: screen descriptor and colour tables, images, graphic control and the NETSCAPE/ANIMEXTS
/// looping extension kept byte for byte; comments, plain text and other application extensions (XMP, ICC) dropped.
enum GIFSanitizer: PictureRules {
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
                reason:
                    "graphic control extension at offset \(block.range.lowerBound) is \(block.range.count) bytes, not 8"
            )
        }
    }

    /// `content_sha256` of a GIF: SHA-256 over the header with the logical screen descriptor (its pixel-aspect
    /// byte taken as 0) and global colour table, and every graphic control extension and image (descriptor, local
    /// colour table, LZW data), in file order, byte for byte. Comments and application extensions are excluded.
    /// Each image counts as published: LZW data up to its end-of-information code (`publishedImage`).
    static func contentSHA256(_ bytes: [UInt8], _ structure: GIFStructure) -> String {
        var hasher = RangeHasher()
        let images = (try? publishedImages(bytes, structure)) ?? [:]
        for (index, block) in structure.blocks.enumerated() where isCoded(block.kind) {
            if block.kind == .screen {
                hasher.update(bytes, 0..<12)
                hasher.update([0])
                hasher.update(bytes, 13..<block.range.upperBound)
            } else if let image = images[index] {
                hasher.update(image)
            } else {
                hasher.update(bytes, block.range)
            }
        }
        return hasher.finalize()
    }

    /// The picture rebuilt from the allowlist and checked by `verify` before it is returned: no unverified output
    /// leaves this function.
    static func sanitize(_ bytes: [UInt8], _ structure: GIFStructure, options _: SanitizeOptions = .init())
        throws(MediaError) -> (output: [UInt8], orientation: Int?, removed: [String])
    {
        try checkFramesInsideScreen(bytes, structure)
        let images = try publishedImages(bytes, structure)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var removed = RemovedLog()
        for (index, block) in structure.blocks.enumerated() {
            if let image = images[index] {
                output += image
                if image.count < block.range.count {
                    removed.note(
                        "unread image data",
                        "\(block.range.count - image.count) bytes of LZW data after the end code of the frame at offset \(block.range.lowerBound)")
                }
                continue
            }
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
                            "\(block.range.count - loop.count) bytes after the loop count of \(block.name) at offset \(block.range.lowerBound)"
                        )
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
        try verify(output, expectedContent: contentSHA256(bytes, structure))
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
        let images: [Int: [UInt8]]
        do { images = try publishedImages(output, structure) } catch { throw fail("\(error)") }
        for (index, image) in images where image.count != structure.blocks[index].range.count {
            throw fail("the output holds LZW data no decoder reads")
        }
        guard contentSHA256(output, structure) == expectedContent else {
            throw fail("coded image data (content_sha256) changed")
        }
    }
}
