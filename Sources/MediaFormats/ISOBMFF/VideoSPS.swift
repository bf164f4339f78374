import ByteKit

/// The part of an H.264 or HEVC sequence parameter set that says how much of the coded picture is shown: the coded
/// size and the cropping (H.264 `frame_cropping`, HEVC `conformance_window`), in luma samples, and the coding
/// block alignment the encoder had to pad to. Read with exp-Golomb codes from the RBSP; any read past the end, or
/// a value out of its range, is an error (a picture whose shown area cannot be known is not published).
struct VideoSPS: Equatable {
    var codedWidth: Int
    var codedHeight: Int
    /// Luma samples cropped away: left, right, top, bottom.
    var crop: (left: Int, right: Int, top: Int, bottom: Int)
    /// The alignment the coded size is a multiple of (H.264: 16, or 32 rows for field coding; HEVC: MinCbSize).
    var alignment: (width: Int, height: Int)

    static func == (a: VideoSPS, b: VideoSPS) -> Bool {
        a.codedWidth == b.codedWidth && a.codedHeight == b.codedHeight && a.crop == b.crop && a.alignment == b.alignment
    }

    static func fail(_ reason: String) -> MediaError { .malformed(format: "sequence parameter set", reason: reason) }

    /// Bits of an RBSP, most significant first.
    struct Bits {
        let bytes: [UInt8]
        var at = 0

        init(unit: [UInt8], header: Int) { bytes = SEIAllowlist.rbsp(unit, header: header) }

        mutating func bit() throws(MediaError) -> Int {
            guard at < bytes.count * 8 else { throw VideoSPS.fail("it ends before its fields") }
            defer { at += 1 }
            return Int(bytes[at >> 3] >> (7 - UInt8(at & 7))) & 1
        }

        mutating func bits(_ count: Int) throws(MediaError) -> Int {
            var value = 0
            for _ in 0..<count { value = value << 1 | (try bit()) }
            return value
        }

        mutating func skip(_ count: Int) throws(MediaError) {
            guard at + count <= bytes.count * 8 else { throw VideoSPS.fail("it ends before its fields") }
            at += count
        }

        /// ue(v), at most 31 leading zeros (values up to 2^31 - 2).
        mutating func ue() throws(MediaError) -> Int {
            var zeros = 0
            while try bit() == 0 {
                zeros += 1
                guard zeros <= 31 else { throw VideoSPS.fail("an exp-Golomb code is longer than 32 bits") }
            }
            return (1 << zeros) - 1 + (try bits(zeros))
        }

        mutating func se() throws(MediaError) -> Int {
            let value = try ue()
            return value & 1 == 1 ? (value + 1) / 2 : -(value / 2)
        }

        mutating func ue(max: Int) throws(MediaError) -> Int {
            let value = try ue()
            guard value <= max else { throw VideoSPS.fail("a field is \(value), more than \(max)") }
            return value
        }
    }

    /// An H.264 SPS NAL unit (with its 1-byte header), ITU-T H.264 §7.3.2.1.1.
    init(avc unit: [UInt8]) throws(MediaError) {
        var r = Bits(unit: unit, header: 1)
        let profile = try r.bits(8)
        try r.skip(16)  // constraint flags, level
        _ = try r.ue(max: 31)
        var chroma = 1
        var separatePlanes = false
        if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(profile) {
            chroma = try r.ue(max: 3)
            if chroma == 3 { separatePlanes = try r.bit() == 1 }
            _ = try r.ue(max: 6)
            _ = try r.ue(max: 6)
            try r.skip(1)
            if try r.bit() == 1 {
                for list in 0..<(chroma == 3 ? 12 : 8) {
                    guard try r.bit() == 1 else { continue }
                    var last = 8
                    var next = 8
                    for _ in 0..<(list < 6 ? 16 : 64) where next != 0 {
                        next = (last + (try r.se()) + 256) % 256
                        last = next == 0 ? last : next
                    }
                }
            }
        }
        _ = try r.ue(max: 12)
        let pocType = try r.ue(max: 2)
        if pocType == 0 {
            _ = try r.ue(max: 12)
        } else if pocType == 1 {
            try r.skip(1)
            _ = try r.se()
            _ = try r.se()
            for _ in 0..<(try r.ue(max: 255)) { _ = try r.se() }
        }
        _ = try r.ue(max: 32)
        try r.skip(1)
        let widthInMbs = try r.ue(max: 1 << 16) + 1
        let heightInMapUnits = try r.ue(max: 1 << 16) + 1
        let frameMbsOnly = try r.bit()
        if frameMbsOnly == 0 { try r.skip(1) }
        try r.skip(1)
        var offsets = (0, 0, 0, 0)
        if try r.bit() == 1 { offsets = (try r.ue(), try r.ue(), try r.ue(), try r.ue()) }
        let arrayType = separatePlanes ? 0 : chroma
        let unitX = arrayType == 0 ? 1 : (arrayType == 3 ? 1 : 2)
        let unitY = (arrayType == 0 ? 1 : (arrayType == 1 ? 2 : 1)) * (2 - frameMbsOnly)
        codedWidth = widthInMbs * 16
        codedHeight = heightInMapUnits * 16 * (2 - frameMbsOnly)
        crop = (offsets.0 * unitX, offsets.1 * unitX, offsets.2 * unitY, offsets.3 * unitY)
        alignment = (16, 16 * (2 - frameMbsOnly))
        guard crop.left + crop.right < codedWidth, crop.top + crop.bottom < codedHeight else {
            throw VideoSPS.fail("it crops away the whole picture")
        }
    }

    /// An HEVC SPS NAL unit (with its 2-byte header), ITU-T H.265 §7.3.2.2.1.
    init(hevc unit: [UInt8]) throws(MediaError) {
        var r = Bits(unit: unit, header: 2)
        try r.skip(4)
        let subLayers = try r.bits(3)
        try r.skip(1)
        // profile_tier_level(1, subLayers): general part, then per sub-layer presence flags and parts.
        try r.skip(88 + 8)
        var present: [(profile: Bool, level: Bool)] = []
        for _ in 0..<subLayers { present.append((try r.bit() == 1, try r.bit() == 1)) }
        if subLayers > 0 { try r.skip(2 * (8 - subLayers)) }
        for layer in present {
            if layer.profile { try r.skip(88) }
            if layer.level { try r.skip(8) }
        }
        _ = try r.ue(max: 15)
        let chroma = try r.ue(max: 3)
        var separatePlanes = false
        if chroma == 3 { separatePlanes = try r.bit() == 1 }
        let width = try r.ue(max: 1 << 16)
        let height = try r.ue(max: 1 << 16)
        var offsets = (0, 0, 0, 0)
        if try r.bit() == 1 { offsets = (try r.ue(), try r.ue(), try r.ue(), try r.ue()) }
        _ = try r.ue(max: 8)
        _ = try r.ue(max: 8)
        _ = try r.ue(max: 12)
        let orderingInfo = try r.bit()
        for _ in (orderingInfo == 1 ? 0 : subLayers)...subLayers {
            _ = try r.ue()
            _ = try r.ue()
            _ = try r.ue()
        }
        let minCb = 1 << (try r.ue(max: 3) + 3)
        let arrayType = separatePlanes ? 0 : chroma
        let unitX = arrayType == 1 || arrayType == 2 ? 2 : 1
        let unitY = arrayType == 1 ? 2 : 1
        codedWidth = width
        codedHeight = height
        crop = (offsets.0 * unitX, offsets.1 * unitX, offsets.2 * unitY, offsets.3 * unitY)
        alignment = (minCb, minCb)
        guard width > 0, height > 0, crop.left + crop.right < width, crop.top + crop.bottom < height else {
            throw VideoSPS.fail("it crops away the whole picture")
        }
    }

    /// The size a decoder outputs: the coded size less the cropping.
    var shown: (width: Int, height: Int) {
        (codedWidth - crop.left - crop.right, codedHeight - crop.top - crop.bottom)
    }

    /// The reason a person can act on when more is cropped away than coding needs; nil when the crop is padding.
    /// Padding goes right and bottom, less than one alignment unit (at least 16, the macroblock size hardware
    /// HEVC encoders keep).
    func hiddenPixelsReason(codec: String) -> String? {
        let across = max(alignment.width, 16)
        let down = max(alignment.height, 16)
        guard crop.left + crop.right >= across || crop.top + crop.bottom >= down else { return nil }
        let shown = "\(codedWidth - crop.left - crop.right)x\(codedHeight - crop.top - crop.bottom)"
        return "the \(codec) video codes \(codedWidth)x\(codedHeight) pixels but shows only \(shown) (its sequence "
            + "parameter set crops \(crop.left + crop.right) columns and \(crop.top + crop.bottom) rows away, more than "
            + "the coding alignment needs): the hidden part of the picture would be published; export the video at "
            + "the size it is shown"
    }
}
