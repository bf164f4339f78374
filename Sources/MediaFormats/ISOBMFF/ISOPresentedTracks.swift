import ByteKit

/// One presented track per kind (issue 22 item 3): a player shows one video track and plays one audio track, the
/// first enabled one of each (`tkhd` flag 1); tracks in the same alternate group are alternatives of which it picks
/// one, and an enabled track of another group is still not shown beside the first. Every other video or audio track
/// (disabled, a second angle, a second language, a commentary) is dropped with its samples: nobody was shown it.
extension ISOMedia {
    /// The `tkhd` enabled flag and alternate group of a track.
    func trackHeader(_ track: Track) throws(MediaError) -> (enabled: Bool, alternateGroup: Int) {
        guard let tkhd = child(track.box, "tkhd") else { throw fail("track \(track.id) has no tkhd") }
        let head = try payload(tkhd, limit: 1 << 12)
        let groupAt = head.first == 1 ? 46 : 34
        guard head.count >= groupAt + 2 else { throw fail("tkhd at offset \(boxes[tkhd].offset) is too short") }
        return (head[3] & 1 == 1, Bytes.be(head, groupAt, 2))
    }

    /// Keeps the first enabled video track and the first enabled audio track; drops the others, saying why.
    mutating func keepPresentedTracks() throws(MediaError) {
        for kind in ["vide", "soun"] {
            var shown: (id: Int, group: Int)? = nil
            let name = kind == "vide" ? "video" : "audio"
            for index in tracks.indices where tracks[index].keep && tracks[index].handler == kind {
                let header = try trackHeader(tracks[index])
                guard header.enabled else {
                    tracks[index].keep = false
                    tracks[index].dropReason = "disabled: players do not show it"
                    continue
                }
                guard let first = shown else {
                    shown = (tracks[index].id, header.alternateGroup)
                    continue
                }
                tracks[index].keep = false
                tracks[index].dropReason =
                    first.group != 0 && first.group == header.alternateGroup
                    ? "an alternative to \(name) track \(first.id) (alternate group \(first.group)): players play one"
                    : "a second enabled \(name) track: players show only the first, track \(first.id)"
            }
        }
    }
}
