import ByteKit

/// Hidden media: samples an edit list leaves unpresented, and disabled tracks, are refused (issue 15).
extension ISOMedia {
    /// Audio an edit list may leave unpresented: an encoder's priming and padding (AAC's 1024-2112 samples, Opus's
    /// 80 ms pre-roll, the tail of a last frame). A decoder needs the priming, and it carries no picture.
    static let hiddenAudioAllowance = 0.1

    /// Hidden media is not published (issue 15): a kept track whose edit list leaves samples unpresented (a clip
    /// trimmed by its edit list still holds the trimmed seconds, and anyone can extract them), or a kept track that
    /// is disabled, is refused. Zeroing the hidden samples instead would break decoding of the presented ones that
    /// depend on them (inter-frame prediction from the key frame before a cut, audio priming), so the file is
    /// refused with the reason; a video track may hide no sample, an audio track at most 0.1 s.
    func refuseHiddenMedia() throws(MediaError) {
        guard heif == nil, let moov = roots.first(where: { boxes[$0].type == "moov" }), let mvhd = child(moov, "mvhd")
        else { return }
        let movie = try payload(mvhd, limit: 1 << 12)
        let movieScale = Bytes.be(movie, movie.first == 1 ? 20 : 12, 4)
        // Other tracks are trimmed to what they need, the rest bounded (ISOLeadIn.swift).
        for track in tracks where track.keep && track.unsized {
            let name = "track \(track.id) (\(track.handler == "vide" ? "video" : "audio"))"
            if let tkhd = child(track.box, "tkhd"), try payload(tkhd, limit: 1 << 12)[3] & 1 == 0 {
                throw MediaError.unsupported(
                    "\(name) is disabled: players do not show it, but its samples would be published")
            }
            guard let elst = try editList(track.box) else { continue }
            guard let mdia = child(track.box, "mdia"), let mdhd = child(mdia, "mdhd"),
                let stbl = path(mdia, ["minf", "stbl"])
            else { continue }
            let media = try payload(mdhd, limit: 1 << 12)
            let mediaScale = Bytes.be(media, media.first == 1 ? 20 : 12, 4)
            guard movieScale > 0, mediaScale > 0 else { throw fail("\(name) has a timescale of 0") }
            let presented = try presentedIntervals(try payload(elst), movieScale: movieScale, mediaScale: mediaScale)
            let hidden = try hiddenSamples(stbl, presented: presented)
            guard hidden.samples > 0 else { continue }
            let seconds = Double(hidden.duration) / Double(mediaScale)
            if track.handler == "soun" && seconds <= ISOMedia.hiddenAudioAllowance { continue }
            throw MediaError.unsupported(
                "the edit list of \(name) hides \(hidden.samples) of \(hidden.total) samples "
                    + "(\(String(format: "%.2f", seconds)) s) that no viewer sees but that would be published: "
                    + "export the clip without hidden media (re-encode the part to be shown)")
        }
    }

    /// The media-time intervals an edit list presents, sorted and merged (a dwell, rate 0, as one tick).
    func presentedIntervals(_ data: [UInt8], movieScale: Int, mediaScale: Int) throws(MediaError) -> [Range<Int>] {
        guard data.count >= 8 else { throw fail("elst is too short") }
        let wide = data[0] == 1
        let width = wide ? 8 : 4
        let count = Bytes.be(data, 4, 4)
        guard count <= (data.count - 8) / (2 * width + 4) else { throw fail("elst lists more edits than it holds") }
        var intervals: [Range<Int>] = []
        let end = Int.max / 4
        for index in 0..<count {
            let at = 8 + index * (2 * width + 4)
            let duration = Bytes.be(data, at, width)
            var time = Bytes.be(data, at + width, width)
            if !wide, time >= 1 << 31 { time -= 1 << 32 }
            if wide, time >= 1 << 62 || time < 0 { time = -1 }  // Bytes.be wraps 64-bit negatives
            let rate = Bytes.be(data, at + 2 * width, 4)
            if time == -1 { continue }  // an empty edit: a pause, nothing of the media
            guard time >= 0, rate < 1 << 31 else { throw MediaError.unsupported("an edit list plays media backwards") }
            if rate == 0 {
                intervals.append(time..<(time + 1))
                continue
            }
            // The media this edit plays: its duration in media time, times the rate (16.16).
            var length = end
            if duration > 0 {
                let (scaled, overflow) = duration.multipliedReportingOverflow(by: mediaScale)
                if !overflow {
                    let (rated, again) = (scaled / movieScale).multipliedReportingOverflow(by: rate)
                    if !again { length = max(1, rated >> 16) }
                }
            }
            intervals.append(time..<(time <= end - length ? time + length : end))
        }
        return Bytes.merge(intervals)
    }

    /// How many samples (and how much media time) fall outside every presented interval, by their composition times
    /// (stts, ctts).
    func hiddenSamples(_ stbl: Int, presented: [Range<Int>]) throws(MediaError) -> (
        samples: Int, duration: Int, total: Int
    ) {
        guard let stts = child(stbl, "stts") else { return (0, 0, 0) }
        let timing = try payload(stts)
        guard timing.count >= 8, Bytes.be(timing, 4, 4) <= (timing.count - 8) / 8 else { throw fail("stts is cut short") }
        var offsets: [(count: Int, offset: Int)] = []
        if let ctts = child(stbl, "ctts") {
            let data = try payload(ctts)
            guard data.count >= 8, Bytes.be(data, 4, 4) <= (data.count - 8) / 8 else { throw fail("ctts is cut short") }
            for run in 0..<Bytes.be(data, 4, 4) {
                var offset = Bytes.be(data, 12 + run * 8, 4)
                if offset >= 1 << 31 { offset -= 1 << 32 }  // signed in version 1, and in practice in version 0
                offsets.append((Bytes.be(data, 8 + run * 8, 4), offset))
            }
        }
        var hidden = 0
        var hiddenTime = 0
        var total = 0
        var decode = 0
        var run = 0
        var leftInRun = offsets.first?.count ?? 0
        func isPresented(_ start: Int, _ length: Int) -> Bool {
            let index = Bytes.firstEnding(after: start, in: presented)
            if length == 0 {
                // A sample of no duration (a writer's last one) counts where it starts, end included.
                return (index < presented.count && presented[index].lowerBound <= start)
                    || (index > 0 && presented[index - 1].upperBound == start)
            }
            return index < presented.count && presented[index].lowerBound < start + length
        }
        // No more samples than the sample-size table lists (a few bytes of stts can claim billions).
        let sizes = child(stbl, "stsz") ?? child(stbl, "stz2")
        let listed = try sizes.map { (box) throws(MediaError) -> Int in
            let head = try source.read(boxes[box].payload.lowerBound..<min(boxes[box].payload.upperBound, boxes[box].payload.lowerBound + 12))
            return Bytes.be(head, 8, 4)
        } ?? 0
        for entry in 0..<Bytes.be(timing, 4, 4) {
            let count = Bytes.be(timing, 8 + entry * 8, 4)
            let delta = Bytes.be(timing, 12 + entry * 8, 4)
            guard count <= listed - total else { throw fail("stts times more samples than the track has") }
            for _ in 0..<count {
                while leftInRun == 0 && run + 1 < offsets.count {
                    run += 1
                    leftInRun = offsets[run].count
                }
                let offset = run < offsets.count && leftInRun > 0 ? offsets[run].offset : 0
                if leftInRun > 0 { leftInRun -= 1 }
                if !isPresented(decode + offset, delta) {
                    hidden += 1
                    hiddenTime += delta
                }
                total += 1
                decode += delta
            }
        }
        return (hidden, hiddenTime, total)
    }
}
