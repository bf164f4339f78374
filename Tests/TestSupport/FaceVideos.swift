import Foundation

/// Videos made by ffmpeg from SampleMedia's face pictures (public-domain NASA photographs, SampleMedia/README.md),
/// for the face count of videos (issue 24): each picture shown for some seconds in turn, at 10 frames a second.
public enum FaceVideos {
    /// Encodes `parts` (sample names, each shown `seconds`) into `output` with `codec`: "h264" (one key frame for
    /// the whole clip, so that a face that appears later is only in frames predicted from it), "hevc" (hvc1) or
    /// "mpeg4" (MPEG-4 Visual, mp4v).
    /// `keyInterval`: frames from one key frame to the next. `extra`: more output options. `filter`: appended to
    /// each part's filter. `rotate`: the track's display rotation
    /// tag as ffmpeg 5.1 writes it on a stream copy (its tkhd matrix; 270 writes (0, 1, -1, 0), a clockwise turn).
    public static func make(
        _ parts: [String], seconds: Int = 3, codec: String = "h264", output: URL, extra: [String] = [],
        filter: String = "", rotate: Int? = nil, keyInterval: Int = 600
    ) throws {
        let ffmpeg = try Fixtures.requireTool("ffmpeg")
        var arguments = ["-v", "error", "-y"]
        for part in parts {
            arguments += ["-loop", "1", "-t", "\(seconds)", "-i", Fixtures.sampleMedia.appendingPathComponent(part).path]
        }
        let each = "scale=768:320:force_original_aspect_ratio=decrease,pad=768:320:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=10,format=yuv420p\(filter)"
        var graph = parts.indices.map { "[\($0)]\(each)[p\($0)]" }.joined(separator: ";")
        graph += ";" + parts.indices.map { "[p\($0)]" }.joined() + "concat=n=\(parts.count):v=1[v]"
        arguments += ["-filter_complex", graph, "-map", "[v]"]
        switch codec {
        case "hevc":
            arguments += [
                "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=\(keyInterval):scenecut=0:log-level=error",
                "-tag:v", "hvc1",
            ]
        case "mpeg4":
            // MPEG-4 Visual (mp4v with its esds), as 3GP phones and older cameras write it.
            arguments += ["-c:v", "mpeg4", "-g", "\(keyInterval)", "-q:v", "3"]
        default:
            arguments += ["-c:v", "libx264", "-preset", "veryfast", "-x264-params", "keyint=\(keyInterval):scenecut=0"]
        }
        let encoded = rotate == nil ? output : output.deletingLastPathComponent().appendingPathComponent("unturned-\(output.lastPathComponent)")
        var outcome = try Fixtures.run(ffmpeg, arguments + extra + [encoded.path])
        if outcome.status == 0, let rotate {
            outcome = try Fixtures.run(
                ffmpeg, ["-v", "error", "-y", "-i", encoded.path, "-c", "copy", "-metadata:s:v:0", "rotate=\(rotate)", output.path])
            try? FileManager.default.removeItem(at: encoded)
        }
        guard outcome.status == 0 else {
            throw NSError(domain: "FaceVideos", code: Int(outcome.status), userInfo: [NSLocalizedDescriptionKey: outcome.stderr])
        }
    }
}
