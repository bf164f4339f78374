import ByteKit

/// The one place a format meets its handler. A new format is a folder with its handler, a case in `MediaFormat`
/// and one line here.
extension MediaFormat {
    /// Every handler, in the order `sniff` asks them (ISO-BMFF last: its legacy QuickTime check is the loosest).
    static let handlers: [any MediaFormatHandler] = [
        JPEGHandler(),
        PNGHandler(),
        GIFHandler(),
        WebPHandler(),
        RefusedFormatHandler.tiff,
        ISOBMFFHandler(format: .heic, fileExtension: "heic", displayName: "HEIC/AVIF phone picture"),
        ISOBMFFHandler(format: .heif, fileExtension: "heif", displayName: "HEIC/AVIF phone picture"),
        ISOBMFFHandler(format: .avif, fileExtension: "avif", displayName: "HEIC/AVIF phone picture"),
        ISOBMFFHandler(format: .mp4, fileExtension: "mp4", displayName: "video"),
        ISOBMFFHandler(format: .mov, fileExtension: "mov", displayName: "video"),
        ISOBMFFHandler(format: .threeGP, fileExtension: "3gp", displayName: "video"),
    ]

    private static let handlersByFormat = Dictionary(
        handlers.map { ($0.format, $0) }, uniquingKeysWith: { first, _ in first })

    /// What ConsentGate does with this format.
    var handler: any MediaFormatHandler { MediaFormat.handlersByFormat[self] ?? RefusedFormatHandler.unknown }
}
