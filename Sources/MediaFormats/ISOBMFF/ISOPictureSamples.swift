import ByteKit

/// Still-picture codecs inside movies (issue 22 item 5): each Motion-JPEG (`jpeg`) or PNG-codec (`png `) sample is a
/// whole picture file, and keeps what the camera or `ffmpeg -i IMG_%04d.JPG -c copy` put in it (EXIF with GPS,
/// serials and artist, COM, tEXt). Each sample goes through the picture sanitizer (the same allowlist and the same
/// verification as a JPEG or PNG file), and must present what it presented (`presented_sha256` of the frame).
/// QuickTime's Motion-JPEG A (`mjpa`) and the AVI-style `MJPG` entry hold JPEG frames too (an `mjpa` frame may
/// begin with an APP1 "mjpg" segment of field offsets, which no decoder needs and the sanitizer drops like any
/// APP1 that is not EXIF): the same way. A sample holding a second JPEG after the first one's EOI (the second
/// field of an interlaced frame) is refused: the sanitizer publishes one picture per sample. Motion-JPEG B (`mjpb`)
/// frames have no markers at all (a header of offsets, then the tables and scan), and Avid's and other variants
/// (`AVDJ`, `AVRn`, `dmb1`) carry their own headers: their metadata cannot be told from picture data here, so
/// they are refused.
extension ISOSampleFilter {
    static let jpegFormats: Set<String> = ["jpeg", "mjpa", "MJPG"]
    static let refusedPictureFormats: Set<String> = ["mjpb", "AVDJ", "AVRn", "dmb1"]
    static let pictureFormats = jpegFormats.union(["png "]).union(refusedPictureFormats)

    /// The frame as the picture sanitizer publishes it; refused when it cannot be published as a clean picture.
    static func publishedPicture(_ sample: [UInt8], format: String) throws(MediaError) -> [UInt8] {
        let jpeg = jpegFormats.contains(format)
        let what = jpeg ? "Motion-JPEG" : "PNG"
        guard !refusedPictureFormats.contains(format) else {
            throw refuse(
                "Motion-JPEG frames of the '\(format)' kind are not read (no JPEG markers or a header of their own), so"
                    + " their metadata cannot be removed: export the clip as Motion-JPEG A ('mjpa'), JPEG frames or H.264"
            )
        }
        do {
            let options = SanitizeOptions()
            let built: [UInt8]
            let before: String
            let after: String
            if jpeg {
                if let trailer = try JPEGStructure(parsing: sample).trailer,
                    sample[trailer].firstRange(of: [0xFF, 0xD8, 0xFF]) != nil
                {
                    throw MediaError.unsupported(
                        "the sample holds a second JPEG after the first (an interlaced frame's second field), which"
                            + " would be lost: export the clip progressive (one picture per frame) or as H.264")
                }
                built = try JPEGHandler().sanitize(sample, options: options).output
                before = try JPEGHandler().fingerprints(sample, options: options).presented
                after = try JPEGHandler().fingerprints(built, options: options).presented
            } else {
                built = try PNGHandler().sanitize(sample, options: options).output
                before = try PNGHandler().fingerprints(sample, options: options).presented
                after = try PNGHandler().fingerprints(built, options: options).presented
            }
            guard before == after else { throw MediaError.verificationFailed("the frame presents something else") }
            return built
        } catch {
            throw refuse("a \(what) frame cannot be published as a clean picture: \(error)")
        }
    }
}
