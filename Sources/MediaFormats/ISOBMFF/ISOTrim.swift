import ByteKit

/// Which samples of a kept track a viewer needs (issue 22 item 2): those its edit list presents, and what decoding
/// them requires. Video: from the key frame at or before the first presented frame (in decoding order; one key frame
/// further back when a presented frame shown before that key frame, an open GOP's leading picture, may refer to the
/// one before) through the last presented frame in decoding order (no frame refers to a later-decoded one). Audio:
/// the presented samples and the pre-roll the track declares (a `roll`/`prol` sample group) or its codec needs (AAC:
/// two frames, Opus: 80 ms). Everything outside is trimmed by the rewriter; what is needed but not presented is the
/// hidden lead-in, bounded by `max_hidden_lead_in_seconds`.
///
/// The same rule applied to the rewritten track gives its whole sample range, so `presented_sha256`, defined over
/// these samples and their timing relative to the first of them, is the same for a clip and its trimmed copy.
struct ISOTrim {
    /// The needed samples, in decoding order (inclusive bounds), and how many the track has.
    var first: Int
    var last: Int
    var total: Int
    /// Media ticks of needed samples no edit presents (the lead-in and any sample between or after presented ones).
    var hidden: Int
    /// The decoding time of the first needed sample (subtracted from every time of the rewritten track).
    var shift: Int
    var timescale: Int
    /// The composition time of the first needed sample (a video: the key frame decoding starts from).
    var startTime: Int

    var trimmed: Bool { first > 0 || last < total - 1 }
    var hiddenSeconds: Double { Double(hidden) / Double(max(timescale, 1)) }
}

extension ISOMedia {
    /// The needed samples of a kept track (all of them without an edit list, or when it presents no sample).
    func trim(_ track: Track, _ table: ISOSampleTable) throws(MediaError) -> ISOTrim {
        guard let mdia = child(track.box, "mdia"), let mdhd = child(mdia, "mdhd") else {
            throw fail("track \(track.id) has no mdhd")
        }
        let media = try payload(mdhd, limit: 1 << 12)
        let mediaScale = Bytes.be(media, media.first == 1 ? 20 : 12, 4)
        guard mediaScale > 0 else { throw fail("track \(track.id) has a timescale of 0") }
        let times = table.decodeTimes()
        var result = ISOTrim(
            first: 0, last: max(table.count - 1, 0), total: table.count, hidden: 0, shift: 0, timescale: mediaScale,
            startTime: 0)
        guard table.count > 0, let elst = try editPayload(track), let moov = roots.first(where: { boxes[$0].type == "moov" }),
            let mvhd = child(moov, "mvhd")
        else { return result }
        let movie = try payload(mvhd, limit: 1 << 12)
        let movieScale = Bytes.be(movie, movie.first == 1 ? 20 : 12, 4)
        guard movieScale > 0 else { throw fail("the movie has a timescale of 0") }
        let presented = try presentedIntervals(elst, movieScale: movieScale, mediaScale: mediaScale)
        func composition(_ index: Int) -> Int { times[index] + table.compositionOffset(index) }
        func isPresented(_ index: Int) -> Bool {
            let start = composition(index)
            let length = table.durations[index]
            let at = Bytes.firstEnding(after: start, in: presented)
            if length == 0 {
                return (at < presented.count && presented[at].lowerBound <= start)
                    || (at > 0 && presented[at - 1].upperBound == start)
            }
            return at < presented.count && presented[at].lowerBound < start + length
        }
        let shown = (0..<table.count).filter(isPresented)
        guard let firstShown = shown.first, let lastShown = shown.last else { return result }
        var first = firstShown
        if track.handler == "vide" {
            func syncAtOrBefore(_ index: Int) -> Int {
                var at = index
                while at > 0 && !table.isSync(at) { at -= 1 }
                return at
            }
            first = syncAtOrBefore(firstShown)
            // A presented frame decoded after the key frame but shown before it may refer to the frame before it.
            while first > 0, shown.contains(where: { $0 > first && composition($0) < composition(first) }) {
                first = syncAtOrBefore(first - 1)
            }
        } else {
            first = max(0, firstShown - (try preRoll(track, table)))
        }
        result.first = first
        result.last = lastShown
        result.shift = times[first]
        result.startTime = composition(first)
        let shownSet = Set(shown)
        for index in first...lastShown where !shownSet.contains(index) { result.hidden += table.durations[index] }
        return result
    }

    /// How many samples before the first presented one an audio decoder needs: the largest negative roll distance of
    /// the track's `roll`/`prol` sample groups, or the codec's: AAC (`mp4a`) two frames, Opus 80 ms.
    func preRoll(_ track: Track, _ table: ISOSampleTable) throws(MediaError) -> Int {
        var count = 0
        if let mdia = child(track.box, "mdia"), let stbl = path(mdia, ["minf", "stbl"]) {
            for sgpd in children[stbl] where boxes[sgpd].type == "sgpd" {
                let data = try payload(sgpd, limit: 1 << 20)
                guard data.count >= 12 else { continue }
                let type = String(decoding: data[4..<8], as: UTF8.self)
                guard type == "roll" || type == "prol" else { continue }
                let version = data[0]
                let fixed = version == 1 ? Bytes.be(data, 8, 4) : 2
                var at = version == 1 ? 12 : (version >= 2 ? 12 : 8)
                guard at + 4 <= data.count else { continue }
                let entries = Bytes.be(data, at, 4)
                at += 4
                for _ in 0..<min(entries, 1 << 16) {
                    var length = fixed
                    if version == 1 && fixed == 0 {
                        guard at + 4 <= data.count else { break }
                        length = Bytes.be(data, at, 4)
                        at += 4
                    }
                    guard at + 2 <= data.count else { break }
                    var roll = Bytes.be(data, at, 2)
                    if roll >= 1 << 15 { roll -= 1 << 16 }
                    if roll < 0 { count = max(count, -roll) }
                    at += max(length, 2)
                }
            }
        }
        if track.sampleEntries.contains("mp4a") { count = max(count, 2) }
        if track.sampleEntries.contains("Opus"), let duration = table.durations.first, duration > 0 {
            let scale = try mediaTimescale(track)
            count = max(count, (scale * 80 / 1000 + duration - 1) / duration)
        }
        return count
    }

    /// The length, in the movie timescale, of an edit that shows a trimmed track from media time `moved` (counted
    /// from its first needed sample) to its end: what an edit of duration 0 means in a fragmented movie.
    func openEditLength(_ table: ISOSampleTable, _ trim: ISOTrim) throws(MediaError) -> (Int) -> Int {
        // The end of the presentation: the latest composition time plus duration, from the first needed sample.
        let times = table.decodeTimes()
        var remaining = 0
        for index in trim.first..<table.count {
            remaining = max(remaining, times[index] + table.compositionOffset(index) + table.durations[index] - trim.shift)
        }
        var movieScale = 1
        if let moov = roots.first(where: { boxes[$0].type == "moov" }), let mvhd = child(moov, "mvhd") {
            let movie = try payload(mvhd, limit: 1 << 12)
            movieScale = Bytes.be(movie, movie.first == 1 ? 20 : 12, 4)
        }
        let mediaScale = max(trim.timescale, 1)
        // Rounded up, so that the edit still reaches the last sample when read back in the media timescale.
        return { moved in (max(0, remaining - moved) * movieScale + mediaScale - 1) / mediaScale }
    }

    func mediaTimescale(_ track: Track) throws(MediaError) -> Int {
        guard let mdia = child(track.box, "mdia"), let mdhd = child(mdia, "mdhd") else { return 1 }
        let media = try payload(mdhd, limit: 1 << 12)
        return Bytes.be(media, media.first == 1 ? 20 : 12, 4)
    }
}
