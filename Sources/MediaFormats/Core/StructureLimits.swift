import ByteKit

/// How many structures (segments, chunks, blocks) a picture may have: the walk keeps one entry for each, and a
/// file made of millions of empty structures would otherwise cost dozens of times its size in memory.
enum StructureLimits {
    static let jpegSegments = 65_536
    static let pngChunks = 100_000
    static let gifBlocks = 100_000
    static let webpChunks = 100_000

    static func tooMany(_ what: String, _ limit: Int) -> MediaError {
        .limitExceeded("too many \(what): more than \(limit)")
    }
}
