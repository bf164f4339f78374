import ByteKit

/// A format ConsentGate recognises but never publishes (TIFF), or a file it does not recognise at all: every
/// operation refuses it with the same sentence. The file is still read whole (within the limits) like a picture, so
/// an empty or oversized file is reported as such first.
struct RefusedFormatHandler: MediaFormatHandler {
    let format: MediaFormat
    let fileExtension: String
    /// Why it is refused, as the person reading the report should hear it.
    let reason: String
    private let signatures: [[UInt8]]

    var displayName: String? { nil }

    func recognizes(_ head: [UInt8]) -> Bool { signatures.contains { head.starts(with: $0) } }

    func inspect(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) { throw .unsupported(reason) }

    func fingerprints(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> (
        presented: String, content: String
    ) { throw .unsupported(reason) }

    func sanitize(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> BuiltPicture {
        throw .unsupported(reason)
    }

    /// TIFF (little- and big-endian): a camera or scanner master, not a publishing format.
    static let tiff = RefusedFormatHandler(
        format: .tiff, fileExtension: "tif",
        reason: "TIFF is not a publishing format (export the picture as JPEG or PNG)",
        signatures: [[0x49, 0x49, 0x2A, 0x00], [0x4D, 0x4D, 0x00, 0x2A]])

    /// Whatever no handler recognises.
    static let unknown = RefusedFormatHandler(
        format: .unknown, fileExtension: "bin", reason: "not an image or video format ConsentGate knows",
        signatures: [])
}
