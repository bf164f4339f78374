import ByteKit

/// Still-picture codecs inside movies (issue 22 item 5): each Motion-JPEG (`jpeg`) or PNG-codec (`png `) sample is a
/// whole picture file, and keeps what the camera or `ffmpeg -i IMG_%04d.JPG -c copy` put in it (EXIF with GPS,
/// serials and artist, COM, tEXt). Each sample goes through the picture sanitizer (the same allowlist and the same
/// verification as a JPEG or PNG file), and must present what it presented (`presented_sha256` of the frame).
/// `mjpa`/`mjpb` (QuickTime's Motion-JPEG A and B, with field markers or no markers at all) are not read here.
extension ISOSampleFilter {
    static let pictureFormats: Set<String> = ["jpeg", "png "]

    /// The frame as the picture sanitizer publishes it; refused when it cannot be published as a clean picture.
    static func publishedPicture(_ sample: [UInt8], format: String) throws(MediaError) -> [UInt8] {
        let jpeg = format == "jpeg"
        let what = jpeg ? "Motion-JPEG" : "PNG"
        do {
            let options = SanitizeOptions()
            let built: [UInt8]
            let before: String
            let after: String
            if jpeg {
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
