import ByteKit

/// The independent re-reading of a sanitized ISO-BMFF file before it may be committed.
extension ISOSanitizer {
    /// Re-reads a written file as a fresh input and requires: a HEIF picture the same size, a movie the layout of a
    /// rewritten one (`verifyRewrittenMovie`); the same content fingerprint;
    /// nothing the inspector reports as metadata; only allowlisted boxes; zero bytes in every `free`/`skip` box
    /// and in every media-data byte that no track or item uses; no track or item that would have been dropped.
    static func verify(path: String, size: Int, expectedContent: String) throws(MediaError) {
        try verify(try FileSource(path: path), size: size, expectedContent: expectedContent)
    }

    /// The same for a file already open (a sandboxed worker's output descriptor); with `expectedContent` nil the
    /// caller compares the returned `presented_sha256` itself.
    @discardableResult
    static func verify(_ source: FileSource, size: Int, expectedContent: String?) throws(MediaError) -> String {
        func failed(_ why: String) -> MediaError { .verificationFailed("the written file " + why) }
        let media = try ISOMedia(source: source)
        // A HEIF picture is patched in place (same size); a movie is rewritten (its layout is checked below).
        if media.heif != nil, source.count != size { throw failed("has a different size") }
        guard media.tracks.allSatisfy(\.keep) else { throw failed("still holds a metadata or text track") }
        guard media.heif?.items.allSatisfy(\.keep) ?? true else { throw failed("still holds a non-image item") }
        if let item = media.heif?.items.first(where: { $0.published != nil }) {
            throw failed("still holds metadata (SEI, OBUs or JPEG segments) inside the data of HEIF item \(item.id)")
        }
        var report = InspectReport(format: .mp4, bytes: source.count, fileSHA256: "")
        try ISOInspector.inspect(source, media.structure, into: &report)
        if let first = report.metadata.first {
            throw failed("still holds metadata: \(first.family) \(first.name) at offset \(first.offset ?? 0)")
        }
        let boxes = media.boxes
        var mustBeZero: [Range<Int>] = []
        for (index, box) in boxes.enumerated() {
            let parentType = media.parent[index].map { boxes[$0].type } ?? ""
            if blank.contains(box.type) || box.type == "wide" {
                mustBeZero.append(box.payload)
                continue
            }
            if let heif = media.heif, index == heif.meta || media.parent[index] == heif.meta {
                if box.type == "pitm" || box.type == "dinf" {
                    let data = try media.payload(index, limit: 1 << 16)
                    let exact =
                        box.type == "pitm"
                        ? data.count == (data.first == 0 ? 6 : 8)
                        : data == ISOSanitizer.box("dref", [0, 0, 0, 0] + Bytes.put(1, 4) + ISOSanitizer.box("url ", [0, 0, 0, 1]))
                    guard exact else { throw failed("holds a HEIF \(box.type) that is not its defined size") }
                }
                continue
            }
            if let kept = allowed[parentType], !kept.contains(box.type) {
                throw failed("holds \(box.path) at offset \(box.offset), which is not on the allowlist")
            }
            if let heif = media.heif, let ipco = media.parent[index], boxes[ipco].type == "ipco",
                media.parent[ipco].flatMap({ media.parent[$0] }) == heif.meta,
                imageProperties.contains(box.type)
            {
                // Each kept property exactly its defined fields (a colr profile as published).
                let data = try media.payload(index, limit: 64 << 20)
                guard (try? ISOExact.heifProperty(box.type, data)) == data else {
                    throw failed("holds HEIF property \(box.type) at offset \(box.offset) larger than its fields")
                }
            }
            if ISOExact.sized.contains(box.type), allowed[parentType]?.contains(box.type) ?? false {
                // Each kept box exactly its defined size, nothing to change in it (independent of the plan).
                var track: ISOMedia.Track? = nil
                var up = media.parent[index]
                while let at = up, track == nil {
                    track = media.tracks.first { $0.box == at }
                    up = media.parent[at]
                }
                let data = try media.payload(index)
                let shape: ISOExact.Shape
                do {
                    shape = try ISOExact.shape(
                        box.type, data, handler: track?.handler ?? "", sampleCount: try media.sampleCount(track))
                } catch { throw failed("holds \(box.path) at offset \(box.offset) that cannot be sized: \(error)") }
                guard shape.defined == data.count, shape.apply(data) == data else {
                    throw failed("holds \(box.path) at offset \(box.offset) that is not exactly its defined size")
                }
            }
        }
        if media.heif == nil { try verifyRewrittenMovie(media, failed: failed) }
        if let fileType = media.roots.first(where: { boxes[$0].type == "ftyp" }) {
            let data = try media.payload(fileType, limit: 1 << 16)
            guard (try? ISOExact.publishedFileType(data)) == data else {
                throw failed("holds a file type box with unknown brands or a minor version")
            }
        }
        let kept = media.keptRanges()
        for root in media.roots where boxes[root].type == "mdat" {
            mustBeZero += Bytes.subtract(kept, from: boxes[root].payload)
        }
        guard media.structure.trailer == nil else { throw failed("still ends with an Insta360 trailer") }
        for field in media.tracks.flatMap(\.compressorNames) where try source.read(field).contains(where: { $0 != 0 }) {
            throw failed("still names its encoder or camera (compressor name at offset \(field.lowerBound))")
        }
        for range in Bytes.merge(mustBeZero) {
            var at = range.lowerBound
            while at < range.upperBound {
                let piece = try source.read(at..<min(range.upperBound, at + (1 << 20)))
                guard piece.allSatisfy({ $0 == 0 }) else {
                    throw failed("has unused bytes left at offset \(at)")
                }
                at += piece.count
            }
        }
        // A movie's video samples must be as the filter publishes them (no SEI user data, no EXIF in a frame).
        let presented = try media.presentedSHA256(requireClean: media.heif == nil)
        if let expectedContent, presented != expectedContent {
            throw failed("presents something else (different media data, timing, edit lists or picture properties)")
        }
        return presented
    }
}
