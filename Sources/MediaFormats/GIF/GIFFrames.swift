import ByteKit

/// Where a GIF's frames lie on its logical screen. A frame (image descriptor) reaching past the screen's edge holds
/// pixels viewers clip or show differently (some grow the canvas, most cut the frame): a face or a name can hide
/// there. LZW data cannot be cropped losslessly, so such a picture is refused with the reason.
extension GIFSanitizer {
    private static func le16(_ bytes: [UInt8], _ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }

    static func checkFramesInsideScreen(_ bytes: [UInt8], _ structure: GIFStructure) throws(MediaError) {
        let screenWidth = le16(bytes, 6)
        let screenHeight = le16(bytes, 8)
        var frame = 0
        for block in structure.blocks where block.kind == .image {
            frame += 1
            let at = block.range.lowerBound
            let left = le16(bytes, at + 1)
            let top = le16(bytes, at + 3)
            let width = le16(bytes, at + 5)
            let height = le16(bytes, at + 7)
            guard left + width <= screenWidth, top + height <= screenHeight else {
                throw .malformed(
                    format: "GIF",
                    reason: "frame \(frame) (at offset \(at)) is \(width)x\(height) pixels at \(left),\(top), partly "
                        + "outside the \(screenWidth)x\(screenHeight) picture: viewers do not show that part, "
                        + "which can hide a face or a name; save the animation again with every frame inside its canvas"
                )
            }
        }
    }
}
