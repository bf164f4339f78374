import ByteKit

/// The SEI messages published, in H.264 and HEVC samples and in `hvcC`/`lhvC` arrays: those that change how a
/// picture is timed, recovered or shown, none that carries text or user data, each no longer than its syntax can be
/// (a larger payload size would leave room for hidden bytes in its extension data: such a message is dropped).
///
/// | type | message (H.264 annex D / H.265 annex D)   | why kept                                  | max bytes |
/// |------|--------------------------------------------|-------------------------------------------|-----------|
/// | 0    | buffering_period                           | HRD timing of the coded picture buffer     | 1024      |
/// | 1    | pic_timing                                 | field/frame structure, output timing       | 64        |
/// | 6    | recovery_point                             | where decoding may start (random access)   | 8         |
/// | 45   | frame_packing_arrangement                  | stereo layout: how the picture is shown    | 16        |
/// | 47   | display_orientation                        | rotation/flip applied on display           | 8         |
/// | 129  | active_parameter_sets (HEVC only)          | which VPS/SPS a picture uses               | 64        |
/// | 130  | decoding_unit_info (HEVC only)             | sub-picture HRD timing                     | 16        |
/// | 132  | decoded_picture_hash (HEVC only)           | MD5/CRC/checksum of the decoded picture    | 49        |
/// | 137  | mastering_display_colour_volume            | HDR tone mapping                           | 24        |
/// | 144  | content_light_level_info                   | HDR tone mapping                           | 4         |
/// | 147  | alternative_transfer_characteristics       | HLG/PQ transfer used for display           | 1         |
/// | 148  | ambient_viewing_environment                | display adaptation                         | 8         |
/// | 149  | content_colour_volume (HEVC only)          | display adaptation                         | 40        |
///
/// Dropped: 4 user_data_registered_itu_t_t35 and 5 user_data_unregistered (free text and camera data: x264/x265
/// options, Sony MDPM GPS and capture time), filler payload (3), and every other or unknown type.
enum SEIAllowlist {
    /// payload type -> largest payload size kept, per codec.
    static let avc: [Int: Int] = [0: 1024, 1: 64, 6: 8, 45: 16, 47: 8, 137: 24, 144: 4, 147: 1, 148: 8]
    static let hevc: [Int: Int] = avc.merging([129: 64, 130: 16, 132: 49, 149: 40]) { a, _ in a }

    struct Message {
        var type: Int
        var size: Int
        var bytes: Range<Int>
    }

    /// The RBSP of a NAL unit after its `header` bytes: without emulation prevention bytes (0x03 after two zeros),
    /// without the zero bytes after its trailing bits.
    static func rbsp(_ unit: [UInt8], header: Int) -> [UInt8] {
        var rbsp: [UInt8] = []
        rbsp.reserveCapacity(unit.count)
        var zeros = 0
        for byte in unit.dropFirst(header) {
            if zeros >= 2 && byte == 3 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            rbsp.append(byte)
        }
        while rbsp.last == 0 { rbsp.removeLast() }
        return rbsp
    }

    /// The SEI messages of an RBSP up to its trailing bits (a final 0x80); nil when it cannot be read so.
    static func messages(_ rbsp: [UInt8]) -> [Message]? {
        var messages: [Message] = []
        var at = 0
        while at < rbsp.count && !(at == rbsp.count - 1 && rbsp[at] == 0x80) {
            let start = at
            var values: [Int] = []
            for _ in 0..<2 {
                var value = 0
                while true {
                    guard at < rbsp.count, value < 1 << 20 else { return nil }
                    value += Int(rbsp[at])
                    at += 1
                    if rbsp[at - 1] != 0xFF { break }
                }
                values.append(value)
            }
            guard values[1] <= rbsp.count - at else { return nil }
            at += values[1]
            messages.append(Message(type: values[0], size: values[1], bytes: start..<at))
        }
        guard !messages.isEmpty, at == rbsp.count - 1 else { return nil }
        return messages
    }

    /// Whether a message is published: its type allowed for the codec, its payload within that type's size.
    static func allowed(_ message: Message, hevc: Bool) -> Bool {
        guard let limit = (hevc ? SEIAllowlist.hevc : SEIAllowlist.avc)[message.type] else { return false }
        return message.size <= limit
    }

    /// An SEI NAL unit as published: itself when every message is allowed, nil (dropped) when none is or when it
    /// cannot be read as SEI messages (an SEI never changes the decoded picture), else rebuilt from the allowed
    /// messages with the emulation prevention bytes put back.
    static func published(_ unit: [UInt8], header: Int, hevc: Bool) -> [UInt8]? {
        try? publishedOrUnreadable(unit, header: header, hevc: hevc)
    }

    /// The same, throwing when the unit cannot be read as SEI messages.
    static func publishedOrUnreadable(_ unit: [UInt8], header: Int, hevc: Bool) throws(MediaError) -> [UInt8]? {
        guard unit.count > header else { throw MediaError.malformed(format: "SEI", reason: "an empty SEI NAL unit") }
        let rbsp = rbsp(unit, header: header)
        guard let messages = messages(rbsp) else {
            throw MediaError.malformed(format: "SEI", reason: "an SEI NAL unit cannot be read as SEI messages")
        }
        let kept = messages.filter { allowed($0, hevc: hevc) }
        if kept.count == messages.count { return unit }
        if kept.isEmpty { return nil }
        return Array(unit[0..<header]) + escaped(kept.flatMap { Array(rbsp[$0.bytes]) } + [0x80])
    }

    /// RBSP bytes with emulation prevention bytes inserted (a 0x03 before any 0x00-0x03 after two zero bytes).
    static func escaped(_ rbsp: [UInt8]) -> [UInt8] {
        var payload: [UInt8] = []
        payload.reserveCapacity(rbsp.count + rbsp.count / 64)
        var zeros = 0
        for byte in rbsp {
            if zeros >= 2 && byte <= 3 {
                payload.append(3)
                zeros = 0
            }
            zeros = byte == 0 ? zeros + 1 : 0
            payload.append(byte)
        }
        return payload
    }
}
