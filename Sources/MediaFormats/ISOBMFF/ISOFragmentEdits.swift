import ByteKit

/// When a fragmented movie's samples are shown (issue 29), and the regular edit list that shows them so.
///
/// ffmpeg reads a fragmented track's edit list as a shift only: an empty first edit of E (movie timescale) and the
/// media time M of the first media edit move every sample by E - M, and no sample is cut (not those before M, not
/// those after the edit's end); the first fragment's `tfdt` is the decoding time of its first sample. A regular
/// movie's edit list is read as a cut. So a fragmented track whose first shown time is not simply its first
/// composition time (an edit list, or a first `tfdt` other than 0) is written with an edit list of its own:
/// `fragmentEdits`, an optional empty edit and one edit from the earliest composition time through the last sample,
/// which the regular reading shows whole, at the same time relative to the other tracks. The common start is
/// moved to 0 (ffmpeg's command line also starts at the earliest stream). ffmpeg shows a regular track's first
/// sample at the end of its empty edit (not later when the media edit starts before it), so a track's lead over the
/// earliest is an empty edit, rounded to the nearest tick of the movie timescale (ffmpeg writes 1000: half a
/// millisecond at most, below a video frame; an audio track that is not the earliest may move by up to that).
///
/// Refused edit shapes (players disagree on them when the movie is fragmented): more than one media edit, an empty
/// edit that is not the first, a dwell or another rate than 1, and a media edit whose end cuts samples off.
extension ISOMedia {
    /// An edit list entry: duration (movie timescale), media time (-1: empty), rate (16.16).
    struct Edit: Equatable {
        var duration: Int
        var time: Int
        var rate: Int
    }

    static func edits(_ data: [UInt8]) -> [Edit]? {
        guard data.count >= 8 else { return nil }
        let width = data[0] == 1 ? 8 : 4
        let count = Bytes.be(data, 4, 4)
        guard count <= (data.count - 8) / (2 * width + 4) else { return nil }
        return (0..<count).map { index in
            let at = 8 + index * (2 * width + 4)
            var time = Bytes.be(data, at + width, width)
            if width == 4, time >= 1 << 31 { time -= 1 << 32 }
            if width == 8, time >= 1 << 62 { time = -1 }
            return Edit(duration: Bytes.be(data, at, width), time: time, rate: Bytes.be(data, at + 2 * width, 4))
        }
    }

    static func editPayload(_ edits: [Edit]) -> [UInt8] {
        let wide = edits.contains { $0.duration > Int(UInt32.max) || $0.time > Int(Int32.max) }
        var out: [UInt8] = [wide ? 1 : 0, 0, 0, 0] + Bytes.put(edits.count, 4)
        for edit in edits {
            out += Bytes.put(edit.duration, wide ? 8 : 4) + Bytes.put(edit.time & (wide ? -1 : 0xFFFF_FFFF), wide ? 8 : 4)
                + Bytes.put(edit.rate, 4)
        }
        return out
    }

    /// a * b / c rounded to the nearest (halves away from zero), as ffmpeg's av_rescale; nil on overflow.
    static func rescale(_ a: Int, _ b: Int, _ c: Int) -> Int? {
        guard c > 0 else { return nil }
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { return nil }
        return product >= 0 ? (product + c / 2) / c : -((-product + c / 2) / c)
    }

    /// Sets `fragmentEdits` of every kept fragmented track that needs one (see above).
    mutating func fragmentEditLists() throws(MediaError) {
        guard let moov = roots.first(where: { boxes[$0].type == "moov" }), let mvhd = child(moov, "mvhd") else { return }
        let movie = try payload(mvhd, limit: 1 << 12)
        let movieScale = Bytes.be(movie, movie.first == 1 ? 20 : 12, 4)
        // Each kept fragmented track: its first shown time as ffmpeg reads it (media ticks), timescale, first
        // composition time, the delay of negative composition offsets, its end, and whether it had an edit list.
        var shown: [(index: Int, first: Int, scale: Int, start: Int, delay: Int, end: Int, edited: Bool)] = []
        for index in tracks.indices where tracks[index].keep {
            let track = tracks[index]
            guard let table = track.fragments, table.count > 0 else { continue }
            let scale = try mediaTimescale(track)
            guard scale > 0, movieScale > 0 else { throw fail("track \(track.id) has a timescale of 0") }
            let times = table.decodeTimes()
            var start = Int.max
            var end = 0
            for sample in 0..<table.count {
                let composition = times[sample] + table.compositionOffset(sample)
                start = min(start, composition)
                end = max(end, composition + table.durations[sample])
            }
            // ffmpeg shows each sample later by the largest negative composition offset (its dts_shift), in a
            // fragmented track as in a regular one.
            let delay = max(0, -(table.compositionOffsets?.min() ?? 0))
            var offset = 0
            var edited = false
            if let elst = try editList(track.box) {
                edited = true
                offset = try fragmentEditShift(try payload(elst), track: track, scale: scale, movieScale: movieScale, end: end)
            }
            shown.append((index, track.fragmentStart + start + delay - offset, scale, start, delay, end, edited))
        }
        // The earliest track (compared exactly: first / scale).
        guard let earliest = shown.min(by: { a, b in
            let (left, right) = (a.first.multipliedFullWidth(by: b.scale), b.first.multipliedFullWidth(by: a.scale))
            return left.high < right.high || (left.high == right.high && left.low < right.low)
        })
        else { return }
        for entry in shown {
            let track = tracks[entry.index]
            // How far after the earliest this track starts, in its timescale: as ffmpeg's command line moves each
            // stream by the earliest start, rounded to microseconds and then to the stream's timescale.
            var lead = 0
            if entry.index != earliest.index {
                guard let micro = ISOMedia.rescale(earliest.first, 1_000_000, earliest.scale),
                    let moved = ISOMedia.rescale(micro, entry.scale, 1_000_000)
                else { throw fail("track \(track.id) starts at a time that cannot be computed") }
                lead = max(0, entry.first - moved)
            }
            // Shown at its composition times already: a regular track without an edit list is shown from its first
            // composition time (ffmpeg moves its decoding times earlier for negative offsets, not the shown ones).
            if !entry.edited && lead == entry.start { continue }
            guard entry.start >= 0 else {
                throw MediaError.unsupported(
                    "fragmented track \(track.id) shows its first sample before it is decoded (a negative composition "
                        + "time) and needs an edit list, which cannot start there: export it without fragments")
            }
            // ffmpeg shows a regular track's first sample at the end of its empty edit, whatever the media time of
            // the edit after it: the lead is an empty edit, to the nearest tick of the movie timescale.
            guard let empty = ISOMedia.rescale(lead, movieScale, entry.scale) else { throw fail("track \(track.id) starts too late") }
            let time = entry.start
            // Rounded up, so that the edit reaches the end of the last sample in the media timescale.
            let (scaled, overflow) = (entry.end - time).multipliedReportingOverflow(by: movieScale)
            guard !overflow else { throw MediaError.unsupported("track \(track.id) is too long for its edit list") }
            let length = (scaled + entry.scale - 1) / entry.scale
            var list: [Edit] = []
            if empty > 0 { list.append(Edit(duration: empty, time: -1, rate: 1 << 16)) }
            list.append(Edit(duration: length, time: time, rate: 1 << 16))
            tracks[entry.index].fragmentEdits = ISOMedia.editPayload(list)
        }
    }

    /// The shift (media ticks) ffmpeg applies to a fragmented track for its edit list (media time of the first media
    /// edit less the first empty edit), refusing the shapes a regular edit list could not show as it does.
    func fragmentEditShift(_ data: [UInt8], track: Track, scale: Int, movieScale: Int, end: Int) throws(MediaError) -> Int {
        guard let list = ISOMedia.edits(data) else { throw fail("the edit list of track \(track.id) is cut short") }
        let name = "fragmented movie: the edit list of track \(track.id)"
        // Durations and times past 2^48 ticks are refused: every sum of them stays exact.
        guard list.allSatisfy({ (0..<(1 << 48)).contains($0.duration) && $0.time >= -1 && $0.time < 1 << 48 }) else {
            throw MediaError.unsupported("\(name) has an edit of a negative or over 2^48-tick duration or time")
        }
        var empty = 0
        var rest = list[...]
        if let first = rest.first, first.time == -1 {
            empty = first.duration
            rest = rest.dropFirst()
        }
        guard let media = rest.first else { return -(ISOMedia.rescale(empty, scale, movieScale) ?? 0) }
        guard rest.count == 1 else {
            throw MediaError.unsupported(
                "\(name) has \(rest.count) media edits; ffmpeg shows a fragmented track whole, other players cut it: "
                    + "export it without fragments")
        }
        guard media.time >= 0, media.rate == 1 << 16 else {
            throw MediaError.unsupported("\(name) has an edit with rate \(media.rate) or media time \(media.time): not supported")
        }
        // An edit of duration 0 runs to the end; a longer one must not end before the last sample does.
        if media.duration > 0 {
            guard let length = ISOMedia.rescale(media.duration, scale, movieScale), length + 1 >= end - media.time else {
                throw MediaError.unsupported(
                    "\(name) ends before its samples do (ffmpeg shows them, other players cut them): export it without fragments")
            }
        }
        guard let emptyTicks = ISOMedia.rescale(empty, scale, movieScale) else { throw fail("\(name) is too long") }
        return media.time - emptyTicks
    }

    /// The edit list the sample model reads for `track`: a fragmented track's own (`fragmentEdits`), else its elst.
    func editPayload(_ track: Track) throws(MediaError) -> [UInt8]? {
        if let edits = track.fragmentEdits { return edits }
        if track.fragments != nil, try editList(track.box) != nil {
            // An edit list that needs no rewriting (lead equals the first composition time, see above): shown whole.
            return nil
        }
        guard let elst = try editList(track.box) else { return nil }
        return try payload(elst)
    }
}
