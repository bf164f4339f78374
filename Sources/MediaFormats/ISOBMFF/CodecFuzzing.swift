import ByteKit

/// The codec-level parsers the ISO-BMFF fuzz target drives directly (Fuzz/iso.swift), besides reaching them through
/// whole files: `ISOSampleFilter` on the input as one sample of each filtered codec, and `VideoSPS` on it as an
/// H.264 and an HEVC SPS. Returns a description of a broken property (nil when none): a filtered sample must be
/// no longer than its input and filter to itself again; a configuration record's SEI filtering must be stable too.
@_spi(Fuzzing) public enum CodecFuzzing {
    public static func check(_ bytes: [UInt8]) -> String? {
        for (format, lengthSize) in [("avc1", 4), ("hvc1", 4), ("hvc1", 2), ("av01", 4), ("avc3", 1)] {
            guard let once = try? ISOSampleFilter.filter(bytes, format: format, lengthSize: lengthSize) else {
                continue
            }
            if once.count > bytes.count { return "the \(format) filter made a sample longer" }
            guard let twice = try? ISOSampleFilter.filter(once, format: format, lengthSize: lengthSize) else {
                return "the \(format) filter's output is refused when filtered again"
            }
            if twice != once { return "the \(format) filter is not stable on its own output" }
        }
        for hevc in [false, true] {
            guard !bytes.isEmpty, let sps = try? (hevc ? VideoSPS(hevc: bytes) : VideoSPS(avc: bytes)) else { continue }
            if sps.crop.left < 0 || sps.crop.right < 0 || sps.crop.left + sps.crop.right >= sps.codedWidth {
                return "an SPS was read with an impossible crop"
            }
            _ = sps.hiddenPixelsReason(codec: hevc ? "HEVC" : "H.264")
        }
        // (The configuration is sized first, as the sanitizer does: `publishedHEVCConfiguration` reads a sized one.)
        if let length = try? ISOExact.childLength("hvcC", bytes), length == bytes.count,
            let once = try? ISOExact.publishedHEVCConfiguration(bytes, head: 22),
            (try? ISOExact.publishedHEVCConfiguration(once, head: 22)) != once
        {
            return "hvcC SEI filtering is not stable on its own output"
        }
        return nil
    }
}
