import ByteKit

/// GIF: walked by blocks, rebuilt from its images, colour tables and loop extension (`GIFSanitizer`). No library of
/// ours decodes it, so the decode check is refused.
struct GIFHandler: PictureFormatHandler {
    typealias Rules = GIFSanitizer

    var format: MediaFormat { .gif }
    var fileExtension: String { "gif" }
    var displayName: String? { "GIF animation" }

    func recognizes(_ head: [UInt8]) -> Bool {
        head.starts(with: Array("GIF87a".utf8)) || head.starts(with: Array("GIF89a".utf8))
    }

    /// `presented_sha256` of the walked animation: its looping extensions (GIF has no colour profile or orientation).
    func presentedSHA256(_ bytes: [UInt8], _ structure: GIFStructure, content: String, options: SanitizeOptions)
        -> String
    {
        var fields = PresentedFingerprint.Fields(coded: PresentedFingerprint.digest(content))
        for block in structure.blocks {
            // The extension as published: its defined 19 bytes, whatever sub-blocks follow its loop count.
            if let loop = GIFSanitizer.loopBlock(bytes, block) { fields.add("loop", loop) }
        }
        return fields.finalize()
    }
}
