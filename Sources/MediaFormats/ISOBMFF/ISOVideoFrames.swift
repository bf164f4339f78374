import ByteKit

/// The presented video track of a movie as a decoder needs it, for counting the faces in its frames (issue 24): the
/// codec (the sample entry's four characters) and its configuration record (`avcC`, `hvcC`, `av1C`: the decoder's
/// extradata), the track's display rotation, and the needed samples (`ISOTrim`: from the key frame the presented
/// frames start from through the last presented one) in decoding order with their composition times. Read by our own
/// ISO-BMFF reader, so the container is parsed once, strictly; the pipeline's worker hands the samples to
/// libavcodec one at a time.
public struct VideoSamples: Sendable {
    public struct Sample: Sendable, Equatable {
        public var range: Range<Int>
        /// Composition (presentation) time, in `timescale` ticks.
        public var time: Int
        public var sync: Bool
    }

    public var codec: String
    public var configuration: [UInt8]
    public var timescale: Int
    /// The sample entry's width and height (before rotation).
    public var width: Int
    public var height: Int
    /// Clockwise quarter turns the track header's matrix applies on display (0 to 3).
    public var quarterTurns: Int
    public var samples: [Sample]

    /// The largest configuration record handed to a decoder.
    static let maxConfigurationBytes = 1 << 20

    /// The presented video track of an MP4, MOV or 3GP file; nil when it has none (audio only).
    public static func read(_ source: FileSource) throws(MediaError) -> VideoSamples? {
        let media = try ISOMedia(source: source)
        guard media.heif == nil, let track = media.tracks.first(where: { $0.keep && $0.handler == "vide" }) else {
            return nil
        }
        guard let (table, trim) = try media.presentedSamples(track), table.count > 0 else { return nil }
        guard let mdia = media.child(track.box, "mdia"), let stbl = media.path(mdia, ["minf", "stbl"]),
            let stsd = media.child(stbl, "stsd")
        else { throw media.fail("track \(track.id) has no sample description") }
        let descriptions = try media.payload(stsd)
        let needed = trim.first...trim.last
        let entryIndex = table.descriptionIndex[trim.first]
        guard needed.allSatisfy({ table.descriptionIndex[$0] == entryIndex }) else {
            throw MediaError.unsupported("the video track changes its sample description midway: its frames are not counted")
        }
        let (codec, configuration, width, height) = try entry(descriptions, number: entryIndex, media: media)
        let times = table.decodeTimes()
        let samples = needed.map { index in
            Sample(
                range: table.offsets[index]..<(table.offsets[index] + table.sizes[index]),
                time: times[index] + table.compositionOffset(index), sync: table.isSync(index))
        }
        return VideoSamples(
            codec: codec, configuration: configuration, timescale: trim.timescale, width: width, height: height,
            quarterTurns: try quarterTurns(media, track), samples: samples)
    }

    /// Sample entry number `number` (1-based) of an `stsd` payload: its format, codec configuration, width, height.
    static func entry(_ data: [UInt8], number: Int, media: ISOMedia) throws(MediaError) -> (String, [UInt8], Int, Int) {
        var at = 8
        var index = 1
        while at + 8 <= data.count {
            let size = Bytes.be(data, at, 4)
            guard size >= 8, size <= data.count - at else { break }
            if index == number {
                let format = String(decoding: data[(at + 4)..<(at + 8)], as: UTF8.self)
                guard size >= 8 + 78 else { throw media.fail("the video sample entry \(format) is too short") }
                let width = Bytes.be(data, at + 8 + 24, 2)
                let height = Bytes.be(data, at + 8 + 26, 2)
                let wanted = [
                    "avc1": "avcC", "avc3": "avcC", "hvc1": "hvcC", "hev1": "hvcC", "av01": "av1C", "mp4v": "esds",
                ][format]
                var child = at + 8 + 78
                var configuration: [UInt8] = []
                while let wanted, child + 8 <= at + size {
                    let length = Bytes.be(data, child, 4)
                    guard length >= 8, length <= at + size - child else { break }
                    if String(decoding: data[(child + 4)..<(child + 8)], as: UTF8.self) == wanted {
                        guard length - 8 <= maxConfigurationBytes else {
                            throw MediaError.limitExceeded("a codec configuration of \(length) bytes")
                        }
                        configuration = Array(data[(child + 8)..<(child + length)])
                        break
                    }
                    child += length
                }
                if wanted != nil, configuration.isEmpty {
                    throw media.fail("the \(format) sample entry has no \(wanted!) configuration")
                }
                if format == "mp4v" {
                    // MPEG-4 Visual (3GP, older cameras): its decoder's configuration is the esds's decoder-specific
                    // information. Another object type under mp4v (MPEG-1/2, JPEG) is named so the decoder refuses it.
                    let (objectType, specific) = try mpeg4Configuration(configuration, media: media)
                    return (objectType == 0x20 ? "mp4v" : "mp4v/\(objectType)", specific, width, height)
                }
                return (format, configuration, width, height)
            }
            at += size
            index += 1
        }
        throw media.fail("the video track names sample description \(number), which its stsd lacks")
    }

    /// An esds payload's object type and decoder-specific information (ISO/IEC 14496-1: ES descriptor 3, decoder
    /// configuration 4, decoder-specific information 5; lengths in 1 to 4 bytes of 7 bits).
    static func mpeg4Configuration(_ d: [UInt8], media: ISOMedia) throws(MediaError) -> (Int, [UInt8]) {
        func descriptor(_ at: Int, within end: Int) throws(MediaError) -> (tag: UInt8, body: Range<Int>) {
            var cursor = at + 1
            var length = 0
            for _ in 0..<4 {
                guard cursor < end else { throw media.fail("esds is shorter than its fields") }
                length = length << 7 | Int(d[cursor] & 0x7F)
                cursor += 1
                if d[cursor - 1] & 0x80 == 0 { break }
            }
            guard at < end, length <= end - cursor else { throw media.fail("esds is shorter than its fields") }
            return (d[at], cursor..<(cursor + length))
        }
        guard d.count >= 6 else { throw media.fail("esds is shorter than its fields") }
        let es = try descriptor(4, within: d.count)
        guard es.tag == 3, es.body.count >= 3 else { throw media.fail("esds holds no ES descriptor") }
        let flags = d[es.body.lowerBound + 2]
        var at = es.body.lowerBound + 3 + (flags & 0x80 != 0 ? 2 : 0) + (flags & 0x20 != 0 ? 2 : 0)
        while at < es.body.upperBound {
            let inner = try descriptor(at, within: es.body.upperBound)
            if inner.tag == 4 {
                guard inner.body.count >= 13 else { throw media.fail("esds's decoder configuration is too short") }
                let objectType = Int(d[inner.body.lowerBound])
                var child = inner.body.lowerBound + 13
                while child < inner.body.upperBound {
                    let specific = try descriptor(child, within: inner.body.upperBound)
                    if specific.tag == 5 { return (objectType, Array(d[specific.body])) }
                    child = specific.body.upperBound
                }
                return (objectType, [])
            }
            at = inner.body.upperBound
        }
        throw media.fail("esds holds no decoder configuration")
    }

    /// The quarter turns of the track header's matrix (a, b, c, d in 16.16), from where it sends the picture's
    /// downward direction (c, d): (0, 1, -1, 0) turns a picture clockwise (how phones record portrait video),
    /// (-1, 0, 0, -1) half way, (0, -1, 1, 0) counter-clockwise. A left-right mirror keeps faces upright, an upside-down
    /// one counts as a half turn; a matrix between quarter turns counts as the nearest.
    static func quarterTurns(_ media: ISOMedia, _ track: ISOMedia.Track) throws(MediaError) -> Int {
        guard let tkhd = media.child(track.box, "tkhd") else { return 0 }
        let head = try media.payload(tkhd, limit: 1 << 12)
        let at = head.first == 1 ? 52 : 40
        guard head.count >= at + 20 else { return 0 }
        func fixed(_ offset: Int) -> Int { Int(Int32(bitPattern: UInt32(Bytes.be(head, at + offset, 4)))) }
        let c = fixed(12), d = fixed(16)
        if abs(d) >= abs(c) { return d >= 0 ? 0 : 2 }
        return c < 0 ? 1 : 3
    }
}
