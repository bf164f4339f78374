import ByteKit

/// Where a rewritten movie goes, and what the verifier requires of one (`ISORewriter.swift`).
extension ISOSanitizer {
    /// Rewrites a movie (not a HEIF picture) into `output`. Beside a final path it is verified here against the
    /// original's presented fingerprint; into a worker's descriptor another worker verifies it (`verifySanitized`).
    static func sanitizeMovie(
        _ media: ISOMedia, plan: Plan, format: MediaFormat, to output: OutputTarget, knownContent: String?
    ) throws(MediaError) -> SanitizedFile {
        let source = media.source
        var result = SanitizedFile(format: format, pending: nil, orientation: nil, removed: plan.removed)
        switch output {
        case .beside(let destination):
            var content = knownContent ?? ""
            if knownContent == nil { content = try media.presentedSHA256() }
            let pending = try FileIO.fillPending(finalPath: destination) { (fd) throws(MediaError) in
                try rewrite(media, trims: plan.trims, into: fd) { result.removed.append($0) }
            }
            do throws(MediaError) {
                try verify(try FileSource(path: pending.temporaryPath), size: source.count, expectedContent: content)
                if let change = source.changeSinceOpened() { throw .io(change) }
            } catch {
                pending.discard()
                throw error
            }
            result.pending = pending
        case .descriptor(let fd):
            try FileIO.truncate(fd)
            try rewrite(media, trims: plan.trims, into: fd) { result.removed.append($0) }
            if let change = source.changeSinceOpened() { throw .io(change) }
        }
        return result
    }

    /// What a rewritten movie must be, beyond what every sanitized ISO file must be: at most one `ftyp` (first),
    /// one `mdat` and one `moov`, nothing else at the top level, no `free` or `skip` box anywhere, and an `mdat`
    /// that holds the kept tracks' chunks and not one byte more.
    static func verifyRewrittenMovie(_ media: ISOMedia, failed: (String) -> MediaError) throws(MediaError) {
        let boxes = media.boxes
        let types = media.roots.map { boxes[$0].type }
        let expected = (types.first == "ftyp" ? ["ftyp"] : []) + ["mdat", "moov"]
        guard types == expected else {
            throw failed("is not a rewritten movie (its top-level boxes are \(types.joined(separator: ", ")))")
        }
        if let spare = boxes.first(where: { blank.contains($0.type) }) {
            throw failed("holds a \(spare.type) box at offset \(spare.offset)")
        }
        let kept = media.keptRanges()
        for root in media.roots where boxes[root].type == "mdat" {
            if let gap = Bytes.subtract(kept, from: boxes[root].payload).first(where: { !$0.isEmpty }) {
                throw failed("holds media data no kept track uses at offset \(gap.lowerBound)")
            }
        }
    }
}
