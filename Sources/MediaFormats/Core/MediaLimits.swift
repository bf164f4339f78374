import ByteKit
internal import CMediaShims

/// Limits that keep a hostile file from taking the machine: bytes, pixels, decoder memory, scans.
public struct MediaLimits: Sendable, Equatable, Codable {
    public var maxFileBytes: Int
    public var maxPixels: UInt64
    public var maxDecoderMemoryBytes: UInt64
    public var maxProgressiveScans: UInt32

    public init(
        maxFileBytes: Int = 1 << 30, maxPixels: UInt64 = 268_435_456, maxDecoderMemoryBytes: UInt64 = 2 << 30,
        maxProgressiveScans: UInt32 = 1000
    ) {
        self.maxFileBytes = maxFileBytes
        self.maxPixels = maxPixels
        self.maxDecoderMemoryBytes = maxDecoderMemoryBytes
        self.maxProgressiveScans = maxProgressiveScans
    }

    var shim: cgshim_limits {
        cgshim_limits(max_pixels: maxPixels, max_memory_bytes: maxDecoderMemoryBytes, max_scans: maxProgressiveScans)
    }
}
