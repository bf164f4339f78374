import ByteKit

/// Codec-level metadata removal from movie samples (SEI NAL units, AV1 metadata OBUs).
enum ISOSampleFilter {
    /// The sample with metadata NAL units / OBUs removed (SEI outside an allowlist, AV1 metadata OBUs); throws
    /// when removal would change decoding; returns the input for codecs it does not filter.
    static func filter(_ sample: [UInt8], format: String, lengthSize: Int) throws(MediaError) -> [UInt8] {
        // Replaced by the codec-metadata filter at merge.
        sample
    }
}
