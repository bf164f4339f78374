import ByteKit

/// Hidden media after trimming (issue 22 item 2): what a kept track needs but its edit list does not show is bounded
/// by `max_hidden_lead_in_seconds` (default 2 s; 0 allows none in a video, and in a sound track only an encoder's
/// priming, 0.1 s, as before). What lies outside the needed samples is trimmed by the rewriter.
extension ISOMedia {
    /// The bound when the caller gives none.
    static let defaultMaxHiddenLeadIn = 2.0

    /// A kept track's needed samples (`ISOTrim`), nil for a sound track whose chunk lengths its table does not give
    /// (QuickTime's byte-counted sound: never trimmed; `refuseHiddenMedia` bounds it as before).
    func presentedSamples(_ track: Track) throws(MediaError) -> (table: ISOSampleTable, trim: ISOTrim)? {
        guard track.keep, !track.unsized, heif == nil else { return nil }
        let table = try sampleTable(track)
        return (table, try trim(track, table))
    }

    /// Checks every kept track's hidden media against the bound and returns the tracks to trim (by trak box index),
    /// with a line each for the removed list. Refuses, saying how much and why, when a track needs more.
    func trimsWithinBound(_ bound: Double) throws(MediaError) -> (trims: [Int: TrimmedTrack], notes: [String]) {
        try refuseHiddenMedia()
        var trims: [Int: TrimmedTrack] = [:]
        var notes: [String] = []
        for track in tracks where track.keep {
            guard let (table, trim) = try presentedSamples(track) else { continue }
            let video = track.handler == "vide"
            let kind = video ? "video" : "audio"
            let seconds = trim.hiddenSeconds
            let allowed = video ? bound : max(bound, ISOMedia.hiddenAudioAllowance)
            let start = Double(trim.startTime) / Double(max(trim.timescale, 1))
            if seconds > allowed + 1e-9 {
                let what =
                    video
                    ? "the video needs \(Self.seconds(seconds)) s of hidden lead-in before its first shown frame (the key frame at \(Self.seconds(start)) s)"
                    : "the audio track keeps \(Self.seconds(seconds)) s that its edit list does not play"
                throw MediaError.unsupported(
                    "\(what); the bound is \(Self.seconds(bound)) s (max_hidden_lead_in_seconds, --max-hidden-lead-in): "
                        + "hidden frames can be extracted by anyone; export the clip so that it starts at a key frame, "
                        + "or raise the bound")
            }
            guard trim.trimmed || trim.hidden > 0 || track.fragments != nil else { continue }
            // A fragmented track is always written from its samples (its moov tables are empty).
            if trim.trimmed || track.fragments != nil {
                trims[track.box] = try TrimmedTrack(media: self, track: track, table: table, trim: trim)
            }
            if trim.trimmed {
                let cut = trim.total - (trim.last - trim.first + 1)
                notes.append(
                    "track \(track.id) (\(kind)): \(cut) of \(trim.total) samples its edit list does not show trimmed")
            }
            if trim.hidden > 0 {
                notes.append(
                    "track \(track.id) (\(kind)): \(Self.seconds(seconds)) s of hidden "
                        + (video ? "lead-in kept (decoding starts at the key frame at \(Self.seconds(start)) s)" : "pre-roll kept")
                        + "; bound \(Self.seconds(bound)) s")
            }
        }
        return (trims, notes)
    }

    static func seconds(_ value: Double) -> String { String(format: "%.2f", value) }
}
