import ByteKit
import CWebP
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a decoder stops reading each image chunk of a WebP (issue 22, unread bytes).
///
/// A VP8 chunk's last token partition runs to the chunk's end, and a VP8L bitstream or a compressed ALPH chunk
/// ends where its entropy-coded data ends: none of them says its own length. Bytes after that point are never
/// read, so a payload planted there is published unseen. The end is found with libwebp's decoder as the oracle:
/// its bit readers refuse an image whose data runs out before the last pixel (VP8: "premature end-of-file", VP8L
/// and ALPH: end of stream), and a decision depends only on bits it has consumed. So a chunk cut to length `n`
/// that still decodes to the same pixels (RGBA, compared byte for byte) proves the bytes after `n` are not read; the
/// shortest such `n` is searched (one step back, doubling, then halving), and every byte after it is dropped.
/// Each image (an optional ALPH chunk and its VP8/VP8L chunk, at the top level or in one animation frame) is
/// decoded on its own as a small WebP file. An image libwebp cannot decode is refused: where its data ends is
/// then unknown.
enum WebPReadEnd {
    /// One picture a viewer is shown: an optional ALPH chunk and the VP8 or VP8L chunk after it.
    struct Image {
        var alpha: WebPChunk?
        var image: WebPChunk
    }

    /// Lengths already found, by SHA-256 of an image's chunk types, sizes and payloads: one process fingerprints,
    /// sanitizes and verifies the same picture, and would otherwise search again each time (at most 64 kept).
    static let found = Mutex([String: Lengths]())

    struct Lengths: Sendable {
        var alpha: Int
        var image: Int
    }

    static func fail(_ reason: String) -> MediaError { .malformed(format: "WebP", reason: reason) }

    /// The images in `chunks` (the top level, or one frame's chunks), in order.
    static func images(_ chunks: [WebPChunk]) throws(MediaError) -> [Image] {
        var images: [Image] = []
        var pending: WebPChunk? = nil
        for chunk in chunks where WebPSanitizer.frameCoded.contains(chunk.fourCC) {
            if chunk.fourCC == "ALPH" {
                guard pending == nil else {
                    throw fail("two ALPH chunks in a row at offset \(chunk.offset): a viewer reads only one")
                }
                pending = chunk
            } else {
                images.append(Image(alpha: pending, image: chunk))
                pending = nil
            }
        }
        if let pending {
            throw fail("the ALPH chunk at offset \(pending.offset) has no VP8 image after it: a viewer never reads it")
        }
        return images
    }

    /// For each image chunk of the file (by its offset), how many payload bytes a decoder reads; 0 for an ALPH
    /// chunk beside a lossless (VP8L) image, which carries its own alpha and reads none.
    static func keptLengths(_ bytes: [UInt8], _ structure: WebPStructure) throws(MediaError) -> [Int: Int] {
        var all = try images(structure.chunks)
        guard all.count <= 1 else {
            throw fail(
                "\(all.count) images outside animation frames where a viewer shows one: save the picture again as WebP"
            )
        }
        for frame in structure.chunks where frame.fourCC == "ANMF" {
            let inFrame = try images(frame.frameChunks)
            guard inFrame.count == 1 else {
                throw fail(
                    "the animation frame at offset \(frame.offset) holds \(inFrame.count) images, a viewer shows one")
            }
            all += inFrame
        }
        var kept: [Int: Int] = [:]
        for image in all {
            let lengths = try readLengths(bytes, image)
            if let alpha = image.alpha { kept[alpha.offset] = lengths.alpha }
            kept[image.image.offset] = lengths.image
        }
        return kept
    }

    /// The bytes of `image`'s ALPH and VP8/VP8L payloads a decoder reads.
    static func readLengths(_ bytes: [UInt8], _ image: Image) throws(MediaError) -> (alpha: Int, image: Int) {
        var key = RangeHasher()
        for chunk in [image.alpha, image.image].compactMap({ $0 }) {
            key.update(Array(chunk.fourCC.utf8) + Bytes.put(chunk.payload.count, 4))
            key.update(bytes, chunk.payload)
        }
        let name = key.finalize()
        if let known = found.withLock({ $0[name] }) { return (known.alpha, known.image) }
        let lengths = try searchLengths(bytes, image)
        found.withLock {
            if $0.count >= 64 { $0.removeAll() }
            $0[name] = Lengths(alpha: lengths.alpha, image: lengths.image)
        }
        return lengths
    }

    static func searchLengths(_ bytes: [UInt8], _ image: Image) throws(MediaError) -> (alpha: Int, image: Int) {
        let imageData = Array(bytes[image.image.payload])
        let lossless = image.image.fourCC == "VP8L"
        // VP8L carries its own alpha: decoders read no ALPH chunk beside it.
        var alphaData = lossless ? [] : image.alpha.map { Array(bytes[$0.payload]) } ?? []
        let hasAlpha = !alphaData.isEmpty
        func file(_ alpha: ArraySlice<UInt8>, _ coded: ArraySlice<UInt8>) throws(MediaError) -> [UInt8] {
            try standalone(
                alpha: hasAlpha ? alpha : nil, image: coded, fourCC: image.image.fourCC, at: image.image.offset)
        }
        guard let reference = decode(try file(alphaData[...], imageData[...])) else {
            throw fail(
                "libwebp cannot decode the image at offset \(image.image.offset), so where its data ends is unknown:"
                    + " open the picture and save it again as WebP")
        }
        defer { WebPFree(reference.pixels) }
        func same(_ candidate: [UInt8]) -> Bool {
            guard let other = decode(candidate) else { return false }
            defer { WebPFree(other.pixels) }
            return other.width == reference.width && other.height == reference.height
                && memcmp(other.pixels, reference.pixels, Int(reference.width) * Int(reference.height) * 4) == 0
        }
        if hasAlpha {
            let length = try shortest(alphaData.count) { (n) throws(MediaError) in
                same(try file(alphaData[..<n], imageData[...]))
            }
            alphaData = Array(alphaData[..<length])
        }
        let imageLength = try shortest(imageData.count) { (n) throws(MediaError) in
            same(try file(alphaData[...], imageData[..<n]))
        }
        return (alphaData.count, imageLength)
    }

    /// The shortest length `n` in 1...full with `same(n)`, where `same(full)` holds: one byte back, then steps that
    /// double while the picture stays the same, then halving between the last length that decoded the same and the
    /// first that did not.
    static func shortest(_ full: Int, _ same: (Int) throws(MediaError) -> Bool) throws(MediaError) -> Int {
        var good = full
        var bad = 0
        var step = 1
        while step < full {
            let candidate = full - step
            if try same(candidate) {
                good = candidate
                step *= 2
            } else {
                bad = candidate
                break
            }
        }
        while good - bad > 1 {
            let middle = bad + (good - bad) / 2
            if try same(middle) { good = middle } else { bad = middle }
        }
        return good
    }

    /// A WebP file of one image: simple (VP8 or VP8L alone) or extended with the ALPH chunk, its canvas the VP8
    /// key frame's size.
    static func standalone(alpha: ArraySlice<UInt8>?, image: ArraySlice<UInt8>, fourCC: String, at offset: Int)
        throws(MediaError) -> [UInt8]
    {
        var body = Array("WEBP".utf8)
        if let alpha {
            let start = image.startIndex
            guard image.count >= 10, image[start] & 1 == 0, image[start + 3] == 0x9D, image[start + 4] == 0x01,
                image[start + 5] == 0x2A
            else { throw fail("the VP8 chunk at offset \(offset) does not start with a key frame") }
            let width = (Int(image[start + 6]) | Int(image[start + 7]) << 8) & 0x3FFF
            let height = (Int(image[start + 8]) | Int(image[start + 9]) << 8) & 0x3FFF
            guard width > 0, height > 0 else { throw fail("the VP8 key frame at offset \(offset) has no size") }
            var canvas: [UInt8] = [0x10, 0, 0, 0]
            for value in [width - 1, height - 1] {
                canvas += (0..<3).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
            }
            body += WebPSanitizer.chunk("VP8X", canvas) + WebPSanitizer.chunk("ALPH", Array(alpha))
        }
        body += WebPSanitizer.chunk(fourCC, Array(image))
        let size = UInt32(body.count)
        return Array("RIFF".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: size >> ($0 * 8)) } + body
    }

    /// The picture libwebp decodes from `file` (RGBA, to be freed with `WebPFree`), or nil where it refuses it.
    static func decode(_ file: [UInt8]) -> (pixels: UnsafeMutablePointer<UInt8>, width: Int32, height: Int32)? {
        var width: Int32 = 0
        var height: Int32 = 0
        let pixels = file.withUnsafeBufferPointer { WebPDecodeRGBA($0.baseAddress, $0.count, &width, &height) }
        guard let pixels else { return nil }
        return (pixels, width, height)
    }
}
