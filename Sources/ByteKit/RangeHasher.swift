import Crypto

/// SHA-256 over chosen ranges of a byte array, without copying them.
public struct RangeHasher {
    private var hasher = SHA256()

    /// An empty hash.
    public init() {}

    /// Feeds `bytes[range]`, read in place.
    public mutating func update(_ bytes: [UInt8], _ range: Range<Int>) {
        bytes.withUnsafeBytes { raw in
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: raw[range]))
        }
    }

    /// Feeds all of `bytes`.
    public mutating func update(_ bytes: [UInt8]) { update(bytes, 0..<bytes.count) }

    /// The digest as lower-case hex.
    public func finalize() -> String { Hex.string(hasher.finalize()) }

    /// The digest's 32 bytes (for digests of digests).
    public func finalizeBytes() -> [UInt8] { Array(hasher.finalize()) }

    /// Feeds raw memory (a decoder's pixel buffer).
    public mutating func update(_ buffer: UnsafeRawBufferPointer) { hasher.update(bufferPointer: buffer) }

    /// SHA-256 of `bytes` as lower-case hex.
    public static func sha256(_ bytes: [UInt8]) -> String {
        var hasher = RangeHasher()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// SHA-256 of `bytes` as lower-case hex: how file hashes (`file_sha256`) and evidence hashes are written.
public func sha256Hex(_ bytes: [UInt8]) -> String { RangeHasher.sha256(bytes) }
