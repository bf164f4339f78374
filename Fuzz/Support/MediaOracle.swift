// Shared by the media fuzz targets (Fuzz/jpeg.swift, png, webp, gif, iso): one input goes through every public
// entry point a file meets in ConsentGate (walk, inspect, fingerprints, sanitize and its verification, the decoders
// through our C shims, previews), and what the sanitizer accepts is checked again from the outside:
//
//  1. `Inspector` and `Fingerprints` agree on the input's fingerprints.
//  2. Sanitized with the default options (keep ICC and Orientation): the output re-inspects without error, as the same
//     format, with no metadata item left but the ICC profile and the EXIF IFD0 Orientation publishing keeps; it presents
//     the same `presented_sha256` and the same coded data (`content_sha256`) as the input; sanitizing it again succeeds
//     and changes nothing (the sanitizer's own output is a fixed point).
//  3. Sanitized keeping nothing, with `verifyDecode` for JPEG and PNG (libjpeg/libpng decode input and output in
//     full): the output re-inspects with no metadata item at all and the same coded data.
//  4. JPEG and PNG previews (the review page's decoder path) hold no metadata.
//  ISO-BMFF (MP4, MOV, HEIC, AVIF...) goes through `MediaFile` on a file in /dev/shm (it is read in place, never from
//  memory): fingerprints, inspect, a dry-run sanitize and a written one (a movie through the rewriter), the written
//  copy re-inspected and re-fingerprinted from its path; a HEIF copy has the input's size, a rewritten movie
//  rewritten again is the same file.
//
// A broken property prints what broke and aborts: libFuzzer saves the input as a crash.

@_spi(Fuzzing) import MediaFormats

#if canImport(Glibc)
    import Glibc
#endif

/// Pictures are decoded with smaller limits than the pipeline's, so that a header claiming 16k x 16k pixels is
/// refused quickly instead of spending the run on one input (the limits themselves are tested by the suite).
let fuzzLimits = MediaLimits(
    maxFileBytes: 16 << 20, maxPixels: 1 << 22, maxDecoderMemoryBytes: 256 << 20, maxProgressiveScans: 100)

func describe(_ items: [MetadataItem]) -> String {
    items.prefix(5).map { "\($0.family)/\($0.name)" }.joined(separator: ", ")
}

/// The metadata a default sanitize keeps on purpose: the colour profile and the Orientation tag.
func keptByDefault(_ item: MetadataItem) -> Bool {
    item.family == "ICC" || (item.family == "EXIF IFD0" && item.name == "Orientation")
}

func fuzzPicture(_ data: UnsafePointer<UInt8>?, _ size: Int, format: MediaFormat) -> Int32 {
    let bytes = fuzzBytes(data, size)
    // Another format's bytes are another target's work: keep them out of this corpus.
    guard MediaFormat.sniff(bytes) == format else { return -1 }

    // 1. Walk, inspect (libexif, libjpeg/libpng headers), fingerprints.
    let report = Inspector.inspect(bytes)
    let prints = try? Fingerprints.compute(bytes)
    if let presented = report.presentedSHA256, presented != prints?.presentedSHA256 {
        oracleFailure("inspect and fingerprints disagree on presented_sha256")
    }
    if let prints, prints.fileSHA256 != report.fileSHA256 { oracleFailure("file_sha256 differs") }

    // 2. Default options.
    if let clean = try? Sanitizer.sanitize(bytes) {
        guard let prints, let presented = prints.presentedSHA256 else {
            oracleFailure("the sanitizer accepted a file whose fingerprints cannot be computed")
        }
        let out = Inspector.inspect(clean.output)
        if let error = out.error { oracleFailure("the sanitized output does not re-inspect: \(error)") }
        if out.format != format { oracleFailure("the sanitized output is \(out.format), not \(format)") }
        let left = out.metadata.filter { !keptByDefault($0) }
        if !left.isEmpty { oracleFailure("metadata left in the sanitized output: \(describe(left))") }
        if out.presentedSHA256 != presented {
            oracleFailure("the sanitized output presents something else (presented_sha256 changed)")
        }
        if out.legacyContentSHA256 != prints.legacyContentSHA256 { oracleFailure("the coded data changed (content_sha256)") }
        if clean.presentedSHA256 != presented { oracleFailure("the sanitizer reports another presented_sha256") }
        // The pipeline's path (issue 14): the fingerprint an earlier reading took replaces the pass over the input.
        // It must give the same copy, and a fingerprint the copy does not present must be refused.
        do {
            let known = try Sanitizer.sanitize(bytes, expectedPresented: presented)
            if known.output != clean.output || known.presentedSHA256 != presented {
                oracleFailure("the sanitizer gives another copy when the input's presented_sha256 is known")
            }
        } catch {
            oracleFailure("the sanitizer refuses the input's own presented_sha256: \(error)")
        }
        // The writer's path when an independent verifier compares the presentation (issue 14): the same copy,
        // without the writer's own fingerprint of it; whatever it accepts, the verifier's reading above must accept.
        do {
            let deferred = try Sanitizer.sanitize(bytes, expectedPresented: presented, presentedCheckedByVerifier: true)
            if deferred.output != clean.output {
                oracleFailure("the sanitizer gives another copy when the verifier compares the presentation")
            }
        } catch {
            oracleFailure("the sanitizer refuses, with the check left to the verifier, what it accepts otherwise: \(error)")
        }
        if (try? Sanitizer.sanitize(bytes, expectedPresented: String(repeating: "0", count: 64))) != nil {
            oracleFailure("the sanitizer accepted a presented_sha256 that its copy does not present")
        }
        do {
            let again = try Sanitizer.sanitize(clean.output)
            if again.output != clean.output { oracleFailure("sanitizing the sanitized output changed it again") }
        } catch {
            oracleFailure("the sanitized output cannot be sanitized again: \(error)")
        }
    }

    // 3. Keep nothing; decode input and output in full where a listed library can.
    let bare = SanitizeOptions(
        keepOrientation: false, keepICC: false, verifyDecode: format == .jpeg || format == .png, limits: fuzzLimits)
    if let clean = try? Sanitizer.sanitize(bytes, options: bare) {
        let out = Inspector.inspect(clean.output, limits: fuzzLimits)
        if let error = out.error { oracleFailure("the bare output does not re-inspect: \(error)") }
        if !out.metadata.isEmpty { oracleFailure("metadata left in the bare output: \(describe(out.metadata))") }
        if out.legacyContentSHA256 != prints?.legacyContentSHA256 { oracleFailure("the bare output's coded data changed") }
    }

    // 4. Previews (pixels only).
    if Preview.supports(format), let preview = try? Preview.make(bytes, format: format, maxSide: 64, limits: fuzzLimits)
    {
        let out = Inspector.inspect(preview.jpeg)
        if out.error != nil || !out.metadata.isEmpty {
            oracleFailure("the preview is not a clean JPEG: \(out.error ?? describe(out.metadata))")
        }
    }
    return 0
}

/// A private folder in /dev/shm (tmpfs: the sanitizer's fsyncs cost nothing), one per fuzzing process.
let isoFolder: String = {
    let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
    let folder = "\(base)/consentgate-fuzz-\(getpid())"
    mkdir(folder, 0o700)
    return folder
}()

func writeWhole(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { oracleFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let wrote = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
        guard wrote > 0 else { oracleFailure("cannot write \(path)") }
        done += wrote
    }
}

func fuzzISO(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    // The codec-level parsers (SEI/OBU filter, SPS) on the raw input too: most inputs are not whole files.
    if let broken = CodecFuzzing.check(bytes) { oracleFailure(broken) }
    guard MediaFormat.sniff(bytes).isISOBMFF else { return -1 }
    let input = isoFolder + "/input"
    writeWhole(input, bytes)
    defer { unlink(input) }
    guard let file = try? MediaFile(path: input, limits: fuzzLimits) else { return 0 }

    let report = file.inspect(limits: fuzzLimits)
    let prints = try? file.fingerprints()
    if let presented = report.presentedSHA256, presented != prints?.presentedSHA256 {
        oracleFailure("inspect and fingerprints disagree on presented_sha256")
    }
    _ = try? file.sanitize(to: nil)
    guard let written = try? file.sanitize(to: isoFolder + "/output") else { return 0 }
    guard let pending = written.pending else { oracleFailure("a sanitize with a destination wrote nothing") }
    defer { pending.discard() }
    guard let prints, let presented = prints.presentedSHA256 else {
        oracleFailure("the sanitizer accepted a file whose presented_sha256 cannot be computed")
    }
    let out: InspectReport
    do { out = try Inspector.inspect(path: pending.temporaryPath, limits: fuzzLimits) } catch {
        oracleFailure("the sanitized output cannot be opened: \(error)")
    }
    if let error = out.error { oracleFailure("the sanitized output does not re-inspect: \(error)") }
    if !out.metadata.isEmpty { oracleFailure("metadata left in the sanitized output: \(describe(out.metadata))") }
    let picture = [MediaFormat.heic, .heif, .avif].contains(out.format)
    // A HEIF picture is patched in place (same size); a movie is rewritten, and rewriting it again changes nothing.
    if picture, out.bytes != bytes.count { oracleFailure("the sanitized output has another size") }
    if !picture, let copy = try? MediaFile(path: pending.temporaryPath, limits: fuzzLimits) {
        guard let again = try? copy.sanitize(to: isoFolder + "/again"), let second = again.pending else {
            oracleFailure("a rewritten movie cannot be sanitized again")
        }
        defer { second.discard() }
        guard let twice = try? Inspector.inspect(path: second.temporaryPath, limits: fuzzLimits),
            twice.fileSHA256 == out.fileSHA256
        else { oracleFailure("rewriting a rewritten movie changes it") }
    }
    if out.presentedSHA256 != presented {
        oracleFailure("the sanitized output presents something else (presented_sha256 changed)")
    }
    guard let copy = try? MediaFile(path: pending.temporaryPath, limits: fuzzLimits),
        let again = try? copy.fingerprints(), again.presentedSHA256 == presented
    else { oracleFailure("the sanitized output does not fingerprint as the input did") }
    return 0
}
