import ByteKit

/// Metadata inside coded video samples: NAL units and OBUs that no decoder needs to make a picture, but that carry
/// whatever an encoder or camera put there (x264/x265 write their build and options as user data; Sony cameras their
/// GPS position and capture time in an MDPM SEI; `ffmpeg -bsf:v h264_metadata=sei_user_data=...` any text).
///
/// A sample (length-prefixed NAL units for H.264 and HEVC, OBUs for AV1) is published with:
/// - SEI NAL units (H.264 type 6, HEVC prefix 39 and suffix 40) holding only the messages in `SEIAllowlist` (how
///   the picture is timed, recovered and shown), each within the size its syntax can take; an SEI left with no
///   message is dropped. SEI messages never change the decoded samples (H.264/H.265 annex D), so dropping them is
///   lossless for what is shown.
/// - no filler data (H.264 12, HEVC 38), no reserved or unspecified NAL unit types (decoders ignore them by the
///   standard's rule), but Dolby Vision's RPU (HEVC 62) and enhancement layer (63), which a Dolby Vision decoder needs.
/// - AV1: no metadata OBU (type 5) but HDR content light level (1), mastering display (2) and scalability (3); no
///   padding OBU (15: arbitrary bytes), no reserved OBU type (decoders ignore them).
/// Everything a decoder reads to make pictures (parameter sets, slices, AUD, end of sequence/stream, frame and tile
/// OBUs, sequence headers) is kept byte for byte. A sample that cannot be split into its NAL units or OBUs, or that
/// would be left empty, is refused (throws) rather than guessed at, and so is an in-band SPS (avc3, hev1) whose
/// cropping hides more than the coding alignment needs (`VideoSPS.hiddenPixelsReason`), or that cannot be read.
enum ISOSampleFilter {
    static let avcFormats: Set<String> = ["avc1", "avc2", "avc3", "avc4"]
    static let hevcFormats: Set<String> = ["hvc1", "hev1", "dvh1", "dvhe"]

    /// The sample with metadata NAL units / OBUs removed (SEI outside an allowlist, AV1 metadata OBUs); throws
    /// when removal would change decoding; returns the input for codecs it does not filter.
    static func filter(_ sample: [UInt8], format: String, lengthSize: Int) throws(MediaError) -> [UInt8] {
        if avcFormats.contains(format) { return try filterNALUnits(sample, lengthSize: lengthSize, hevc: false) }
        if hevcFormats.contains(format) { return try filterNALUnits(sample, lengthSize: lengthSize, hevc: true) }
        if format == "av01" { return try filterOBUs(sample) }
        if pictureFormats.contains(format) { return try publishedPicture(sample, format: format) }
        return sample
    }

    static func refuse(_ reason: String) -> MediaError { .malformed(format: "video sample", reason: reason) }

    /// Length-prefixed NAL units (`lengthSize` 1, 2 or 4 bytes, from avcC/hvcC), each kept, rebuilt or dropped.
    static func filterNALUnits(_ sample: [UInt8], lengthSize: Int, hevc: Bool) throws(MediaError) -> [UInt8] {
        guard [1, 2, 4].contains(lengthSize) else { throw refuse("a NAL unit length size of \(lengthSize) bytes") }
        var out: [UInt8] = []
        out.reserveCapacity(sample.count)
        var at = 0
        var changed = false
        while at < sample.count {
            guard sample.count - at >= lengthSize else { throw refuse("a NAL unit length is cut short") }
            let length = Bytes.be(sample, at, lengthSize)
            at += lengthSize
            guard length >= (hevc ? 2 : 1), length <= sample.count - at else {
                throw refuse("a NAL unit of \(length) bytes does not fit its sample")
            }
            let unit = Array(sample[at..<(at + length)])
            at += length
            guard let published = try publishedNALUnit(unit, hevc: hevc) else {
                changed = true
                continue
            }
            if published.count != unit.count { changed = true }
            guard published.count < 1 << (8 * lengthSize) else { throw refuse("a rebuilt NAL unit outgrew its length") }
            out += Bytes.put(published.count, lengthSize) + published
        }
        guard changed else { return sample }
        guard !out.isEmpty else { throw refuse("a sample holds nothing but metadata (SEI or filler)") }
        return out
    }

    /// One NAL unit as published: itself, an SEI rebuilt from its allowed messages, or nil (dropped).
    static func publishedNALUnit(_ unit: [UInt8], hevc: Bool) throws(MediaError) -> [UInt8]? {
        guard unit[0] & 0x80 == 0 else { throw refuse("a NAL unit has its forbidden zero bit set") }
        if hevc {
            let type = Int(unit[0] >> 1) & 0x3F
            switch type {
            case 33 where (unit[0] & 1) == 0 && unit[1] >> 3 == 0:
                // An in-band SPS of the base layer (hev1 carries them in samples): no pixels hidden by its cropping.
                if let reason = try VideoSPS(hevc: unit).hiddenPixelsReason(codec: "HEVC") {
                    throw MediaError.unsupported(reason)
                }
                return unit
            case 0...37: return unit  // slices (VCL), VPS, SPS, PPS, AUD, end of sequence and bitstream
            case 39, 40: return SEIAllowlist.published(unit, header: 2, hevc: true)
            case 62, 63: return unit  // Dolby Vision RPU and enhancement layer
            default: return nil  // 38 filler, 41-47 reserved, 48-61 unspecified
            }
        }
        let type = Int(unit[0] & 0x1F)
        switch type {
        case 7:
            // An in-band SPS (avc3 carries them in samples): no pixels hidden by its cropping.
            if let reason = try VideoSPS(avc: unit).hiddenPixelsReason(codec: "H.264") {
                throw MediaError.unsupported(reason)
            }
            return unit
        case 1...5, 8...11, 13...15, 19, 20: return unit  // slices, PPS, AUD, ends, SVC/MVC, auxiliary
        case 6: return SEIAllowlist.published(unit, header: 1, hevc: false)
        default: return nil  // 12 filler, 16-18 and 21-23 reserved, 0 and 24-31 unspecified
        }
    }

    /// An AV1 sample: OBUs (each with its size field, or the last one running to the end of the sample).
    static func filterOBUs(_ sample: [UInt8]) throws(MediaError) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        var changed = false
        while at < sample.count {
            let start = at
            let header = sample[at]
            guard header & 0x80 == 0 else { throw refuse("an AV1 OBU has its forbidden bit set") }
            let type = Int(header >> 3) & 0x0F
            at += header & 0x04 != 0 ? 2 : 1
            var length = sample.count - min(at, sample.count)
            if header & 0x02 != 0 {
                let size = try leb128(sample, &at)
                guard let size else { throw refuse("an AV1 OBU size is cut short") }
                length = size
            }
            guard at <= sample.count, length <= sample.count - at else {
                throw refuse("an AV1 OBU does not fit its sample")
            }
            let payload = at..<(at + length)
            at += length
            let keep: Bool
            switch type {
            // Sequence header, temporal delimiter, frame header, tile group, frame, redundant frame header, tile list.
            case 1, 2, 3, 4, 6, 7, 8: keep = true
            case 5: keep = keptMetadataOBU(Array(sample[payload]))
            default: keep = false  // 15 padding, 0 and 9-14 reserved
            }
            if keep { out += sample[start..<at] } else { changed = true }
        }
        guard changed else { return sample }
        guard !out.isEmpty else { throw refuse("an AV1 sample holds nothing but metadata OBUs") }
        return out
    }

    /// A metadata OBU's payload kept: HDR content light level (type 1, 4 bytes), mastering display colour volume
    /// (2, 24 bytes) or scalability (3), each no longer than its syntax needs plus the trailing bits.
    static func keptMetadataOBU(_ payload: [UInt8]) -> Bool {
        var at = 0
        guard let kind = try? leb128(payload, &at) else { return false }
        let body = payload.count - at
        switch kind {
        case 1: return body <= 4 + 1
        case 2: return body <= 24 + 1
        case 3: return body <= 1 + 1 + 3 * 8 * 7 + 1  // mode, structure, up to 8 spatial layers of 7 bytes
        default: return false  // 4 ITU-T T.35 (user data), 5 timecode, 6-31 unregistered user private
        }
    }

    /// An unsigned LEB128 value at `at` (at most 8 bytes), advancing `at`; nil when cut short.
    static func leb128(_ bytes: [UInt8], _ at: inout Int) throws(MediaError) -> Int? {
        var value = 0
        for index in 0..<8 {
            guard at < bytes.count else { return nil }
            let byte = bytes[at]
            at += 1
            value |= Int(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw refuse("an AV1 size field runs past 8 bytes")
    }
}
