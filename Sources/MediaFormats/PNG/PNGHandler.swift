import ByteKit

/// PNG: walked by chunks, rebuilt from an allowlist of them (`PNGSanitizer`), read and decoded by libpng.
struct PNGHandler: PictureFormatHandler {
    typealias Rules = PNGSanitizer

    var format: MediaFormat { .png }
    var fileExtension: String { "png" }
    var displayName: String? { "PNG picture" }
    var codec: ImageCodec.Library? { .libpng }

    func recognizes(_ head: [UInt8]) -> Bool { head.starts(with: PNGStructure.signature) }

    /// Colour chunks that change how a PNG looks.
    static let pngColourChunks: Set<String> = ["gAMA", "cHRM", "sRGB"]

    /// `presented_sha256` of the walked picture (see `PresentedFingerprint` for the fields, README for the list).
    func presentedSHA256(_ bytes: [UInt8], _ structure: PNGStructure, content: String, options: SanitizeOptions)
        -> String
    {
        var fields = PresentedFingerprint.Fields(coded: PresentedFingerprint.digest(content))
        // Colour chunks of their defined length (decoders ignore others, and the sanitizer drops them); the first
        // usable iCCP's profile as published (ICCProfile.published), so its name and text do not count.
        let icc = options.keepICC ? PNGSanitizer.usedICC(bytes, structure) : nil
        for (index, chunk) in structure.chunks.enumerated() where chunk.crcValid {
            if Self.pngColourChunks.contains(chunk.type) && PNGSanitizer.hasDefinedLength(chunk, structure, bytes) {
                fields.add(chunk.type, bytes[chunk.data])
            } else if let icc, index == icc.chunk {
                if let published = try? ICCProfile.published(icc.profile) {
                    fields.add("icc", published)
                } else {
                    fields.add("iCCP-unchecked", bytes[chunk.data])
                }
            }
        }
        fields.add(
            "orientation",
            PresentedFingerprint.orientation(PNGSanitizer.orientation(bytes, structure), options: options))
        return fields.finalize()
    }
}
