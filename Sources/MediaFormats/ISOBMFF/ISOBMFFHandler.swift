import ByteKit

/// ISO base media files: movies (MP4, MOV, 3GP) and HEIF pictures (HEIC, HEIF, AVIF). They are read in place, never
/// whole (a video may be many gigabytes): walked by box headers (`ISOStructure`), understood as tracks and items
/// (`ISOMedia`), sanitized by a plan of patches over a kernel copy (`ISOSanitizer`) and verified by re-reading the
/// copy. One handler value per format, which differ only in what they recognise and how they are named.
struct ISOBMFFHandler: MediaFormatHandler {
    let format: MediaFormat
    let fileExtension: String
    let displayName: String?

    var readsInPlace: Bool { true }

    func recognizes(_ head: [UInt8]) -> Bool { ISOBMFFHandler.format(of: head) == format }

    /// The ISO-BMFF format a file starting with `head` is, by its first box: the `ftyp` major brand, or a
    /// QuickTime file's first atom. Nil when it is not ISO-BMFF.
    static func format(of head: [UInt8]) -> MediaFormat? {
        func starts(_ text: String, at offset: Int) -> Bool {
            let prefix = Array(text.utf8)
            return head.count >= offset + prefix.count && head[offset..<offset + prefix.count].elementsEqual(prefix)
        }
        if starts("ftyp", at: 4), head.count >= 12 {
            let brand = String(decoding: head[8..<12], as: UTF8.self)
            switch brand {
            case "heic", "heix", "heim", "heis", "hevc", "hevx": return .heic
            case "avif", "avis": return .avif
            case "mif1", "msf1", "miaf": return .heif
            case "qt  ": return .mov
            default: return brand.hasPrefix("3g") ? .threeGP : .mp4
            }
        }
        for box in ["moov", "mdat", "wide", "free", "skip", "pnot"] where starts(box, at: 4) { return .mov }
        return nil
    }

    // MARK: In memory: refused, the media is read in place

    func inspect(_ bytes: [UInt8], into report: inout InspectReport) throws(MediaError) {
        throw .unsupported("\(format.rawValue) is inspected in place from a file")
    }

    func fingerprints(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> (
        presented: String, content: String
    ) {
        throw .unsupported("\(format.rawValue) is fingerprinted in place from a file (MediaFile)")
    }

    func sanitize(_ bytes: [UInt8], options: SanitizeOptions) throws(MediaError) -> BuiltPicture {
        throw .unsupported("\(format.rawValue) is sanitized in place from a file (MediaFile), not from memory")
    }

    // MARK: A file, read in place

    /// Both fingerprints in one sequential pass over the file (`ISOMedia.fingerprints`).
    func fingerprints(of file: MediaFile, hashingFile: Bool) throws(MediaError) -> Fingerprints {
        let values = try ISOMedia(source: file.source).fingerprints(hashingFile: hashingFile)
        return Fingerprints(
            format: format, fileSHA256: values.file, presentedSHA256: values.presented,
            legacyContentSHA256: values.content.isEmpty ? nil : values.content)
    }

    /// The full re-reading of `ISOSanitizer.verify` (the allowlist, exact sizes, zeroed free and unused bytes, no
    /// metadata, the same presented fingerprint) on the copy as a fresh input.
    @discardableResult
    func verifySanitized(
        _ file: MediaFile, expectedPresented: String?, expectedSize: Int?, options: SanitizeOptions,
        callerCompares: Bool
    ) throws(MediaError) -> String {
        // The writer of a video or HEIF copy never compares its presentation (it is written in place, not rebuilt):
        // this reading must, or a caller that says it compares the returned value itself.
        guard let expectedSize, expectedPresented != nil || callerCompares else {
            throw .verificationFailed("a video or HEIF copy is verified against its original's size and fingerprint")
        }
        return try ISOSanitizer.verify(file.source, size: expectedSize, expectedContent: expectedPresented)
    }

    func inspect(_ file: MediaFile, limits: MediaLimits) -> InspectReport {
        ISOInspector.inspect(source: file.source, format: format)
    }

    func sanitize(
        _ file: MediaFile, to output: OutputTarget?, options: SanitizeOptions, knownContent: String?,
        presentedCheckedByVerifier: Bool
    ) throws(MediaError) -> SanitizedFile {
        if options.verifyDecode {
            // No listed library decodes video, HEIC or AVIF; fail closed rather than skip the check asked for.
            throw noDecoder
        }
        let source = file.source
        let media = try ISOMedia(source: source)
        let plan = try ISOSanitizer.plan(media, maxHiddenLeadIn: options.hiddenLeadInBound)
        if media.heif == nil, let output {
            // A movie is written anew from the samples it keeps (ISORewriter.swift); a HEIF picture is patched.
            return try ISOSanitizer.sanitizeMovie(
                media, plan: plan, format: format, to: output, knownContent: knownContent)
        }
        var result = SanitizedFile(format: format, pending: nil, orientation: nil, removed: plan.removed)
        guard let output else { return result }
        switch output {
        case .beside(let destination):
            // Verified here against the original's presented fingerprint (taken now unless the caller knows it).
            var content = knownContent ?? ""
            if knownContent == nil { content = try media.presentedSHA256() }
            let pending = try ISOSanitizer.write(plan, from: source, to: destination)
            do throws(MediaError) {
                try ISOSanitizer.verify(
                    try FileSource(path: pending.temporaryPath), size: source.count, expectedContent: content)
                // The copy was made from the file as it is now; the plan from the file as it was read.
                if let change = source.changeSinceOpened() { throw .io(change) }
            } catch {
                pending.discard()
                throw error
            }
            result.pending = pending
        case .descriptor(let fd):
            // A different worker verifies the copy (`verifySanitized`): one reading of it, not two.
            try ISOSanitizer.write(plan, from: source, into: fd)
            if let change = source.changeSinceOpened() { throw .io(change) }
        }
        return result
    }
}
