import ByteKit

/// ICC colour profiles as published: checked and rebuilt from an allowlist of tags, so no text, private tag or
/// unreferenced byte of a profile reaches the output (a profile is a container like any other: its description,
/// copyright, device-maker and device-model tags are free text, and it can carry private tags of any content).
///
/// `published(_:)` is the profile a picture is published with, and the profile `presented_sha256` covers: so a
/// profile whose description (or any other dropped part) was edited still presents the same, and the input and the
/// sanitized output have the same fingerprint.
///
/// Rebuilt profile: the 128-byte header with every field that does not change colours set to 0 (preferred CMM,
/// platform, device manufacturer and model, device attributes, creation date, creator, profile ID, reserved bytes);
/// then the tag table and each kept tag's data in tag-table order, each starting on a 4-byte boundary, zero padded.
/// Kept tags: those that change how colours are rendered (`colourTags`), each checked to have exactly the size its
/// type defines; `desc` and `cprt` (required by the ICC specification) replaced by fixed text of the same type.
/// Every other tag (dmnd, dmdd, vued, pseq, targ, calt, vcgt, private and unknown tags) is dropped.
/// Refused (the picture's colours depend on the profile, so it cannot be dropped silently): a size field that is not
/// the profile's length, no `acsp` signature, more than `maxTags` tags, a tag outside the profile, tags sharing part
/// of their bytes, a colour tag of a type whose size cannot be checked or that is larger than its type defines.
enum ICCProfile {
    static let maxBytes = 16 << 20
    static let maxTags = 1024
    static let headerSize = 128

    /// Tags that change how colours are rendered: kept, each with exactly its defined size.
    static let colourTags: Set<String> = [
        "wtpt", "bkpt", "rXYZ", "gXYZ", "bXYZ", "rTRC", "gTRC", "bTRC", "kTRC", "chad", "chrm", "lumi", "meas", "view",
        "tech", "cicp", "ciis", "rig0", "rig2", "gamt", "pre0", "pre1", "pre2",
        "A2B0", "A2B1", "A2B2", "A2B3", "B2A0", "B2A1", "B2A2", "B2A3",
    ]
    /// Required text tags: kept with fixed text.
    static let fixedText: [String: String] = ["desc": "ICC Profile", "cprt": ""]

    static func fail(_ reason: String) -> MediaError { .malformed(format: "ICC profile", reason: reason) }

    static func be(_ bytes: [UInt8], _ at: Int, _ width: Int) -> Int { Bytes.be(bytes, at, width) }
    static func signature(_ bytes: [UInt8], _ at: Int) -> String {
        String(bytes[at..<(at + 4)].map { $0 >= 0x20 && $0 < 0x7F ? Character(Unicode.Scalar($0)) : "?" })
    }

    /// Checks a profile the way a decoder would before using it (libpng's rule: size field, signature, tag table
    /// inside the profile). False means viewers ignore it.
    static func isUsable(_ profile: [UInt8]) -> Bool {
        guard profile.count >= headerSize + 4, profile.count <= maxBytes, be(profile, 0, 4) == profile.count,
            profile[36..<40].elementsEqual(Array("acsp".utf8))
        else { return false }
        let count = be(profile, 128, 4)
        guard count <= (profile.count - 132) / 12 else { return false }
        for index in 0..<count {
            let at = 132 + index * 12
            let offset = be(profile, at + 4, 4)
            let size = be(profile, at + 8, 4)
            guard offset <= profile.count, size <= profile.count - offset else { return false }
        }
        return true
    }

    /// The profile as it is published (see the type's comment). Idempotent: `published(published(p)) == published(p)`.
    static func published(_ profile: [UInt8]) throws(MediaError) -> [UInt8] {
        guard profile.count <= maxBytes else { throw .limitExceeded("ICC profile of \(profile.count) bytes") }
        guard profile.count >= headerSize + 4 else { throw fail("shorter than its header and tag count") }
        guard be(profile, 0, 4) == profile.count else {
            throw fail("its size field says \(be(profile, 0, 4)) bytes, it has \(profile.count)")
        }
        guard profile[36..<40].elementsEqual(Array("acsp".utf8)) else { throw fail("no 'acsp' signature") }
        let count = be(profile, 128, 4)
        guard count <= maxTags else { throw .limitExceeded("ICC profile with \(count) tags (at most \(maxTags))") }
        let tableEnd = 132 + 12 * count
        guard tableEnd <= profile.count else { throw fail("its tag table runs past its end") }
        var tags: [(signature: String, range: Range<Int>)] = []
        for index in 0..<count {
            let at = 132 + index * 12
            let offset = be(profile, at + 4, 4)
            let size = be(profile, at + 8, 4)
            let name = signature(profile, at)
            guard offset >= tableEnd, offset <= profile.count, size <= profile.count - offset else {
                throw fail("tag \(name) lies outside the profile")
            }
            guard !tags.contains(where: { $0.signature == name }) else { throw fail("tag \(name) appears twice") }
            tags.append((name, offset..<(offset + size)))
        }
        // Tags may share their data whole (three TRC tags naming one curve); never part of it.
        let distinct = Set(tags.map(\.range)).sorted { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(distinct, distinct.dropFirst()) where b.lowerBound < a.upperBound {
            throw fail("tags share part of their bytes at offset \(b.lowerBound)")
        }
        // Rebuild.
        var header = Array(profile[0..<headerSize])
        for field in [4..<8, 10..<12, 24..<36, 40..<44, 48..<64, 80..<128] {
            for index in field { header[index] = 0 }
        }
        var kept: [(signature: String, data: [UInt8], source: Range<Int>)] = []
        for tag in tags {
            let data = Array(profile[tag.range])
            if let text = fixedText[tag.signature] {
                kept.append((tag.signature, try textTag(data, text, tag.signature), tag.range))
            } else if colourTags.contains(tag.signature) {
                try checkSize(data, tag.signature)
                kept.append((tag.signature, data, tag.range))
            }
        }
        var table: [UInt8] = Bytes.put(kept.count, 4)
        var body: [UInt8] = []
        var placed: [Range<Int>: (offset: Int, size: Int)] = [:]
        let dataStart = headerSize + 4 + 12 * kept.count
        for tag in kept {
            let where_: (offset: Int, size: Int)
            if let shared = placed[tag.source] {
                where_ = shared
            } else {
                where_ = (dataStart + body.count, tag.data.count)
                body += tag.data
                while body.count % 4 != 0 { body.append(0) }
                placed[tag.source] = where_
            }
            table += Array(tag.signature.utf8) + Bytes.put(where_.offset, 4) + Bytes.put(where_.size, 4)
        }
        var output = header + table + body
        let size = Bytes.put(output.count, 4)
        for index in 0..<4 { output[index] = size[index] }
        return output
    }

    /// Fixed text in the tag's own type (textDescriptionType, multiLocalizedUnicodeType or textType).
    static func textTag(_ data: [UInt8], _ text: String, _ name: String) throws(MediaError) -> [UInt8] {
        guard data.count >= 8 else { throw fail("tag \(name) is too short") }
        let ascii = Array(text.utf8)
        switch signature(data, 0) {
        case "text": return Array("text".utf8) + [0, 0, 0, 0] + ascii + [0]
        case "desc":
            return Array("desc".utf8) + [0, 0, 0, 0] + Bytes.put(ascii.count + 1, 4) + ascii + [0]
                + [UInt8](repeating: 0, count: 4 + 4 + 2 + 1 + 67)
        case "mluc":
            let utf16 = text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
            return Array("mluc".utf8) + [0, 0, 0, 0] + Bytes.put(1, 4) + Bytes.put(12, 4) + Array("enUS".utf8)
                + Bytes.put(utf16.count, 4) + Bytes.put(28, 4) + utf16
        default: throw fail("tag \(name) has the unknown type \(signature(data, 0))")
        }
    }

    /// A colour tag must have exactly the size its type defines: nothing after its values.
    static func checkSize(_ data: [UInt8], _ name: String) throws(MediaError) {
        guard data.count >= 8 else { throw fail("tag \(name) is too short") }
        let type = signature(data, 0)
        guard data[4..<8].allSatisfy({ $0 == 0 }) else { throw fail("tag \(name) has non-zero reserved bytes") }
        let expected: Int?
        switch type {
        case "XYZ ": expected = name == "gamt" ? nil : 20
        case "curv": expected = data.count >= 12 ? 12 + 2 * be(data, 8, 4) : nil
        case "para":
            let lengths = [0: 4, 1: 12, 2: 16, 3: 20, 4: 28]
            expected = data.count >= 12 ? lengths[be(data, 8, 2)].map { 12 + $0 } : nil
        case "sf32": expected = name == "chad" ? 44 : (data.count - 8) % 4 == 0 ? data.count : nil
        case "sig ": expected = 12
        case "meas", "view": expected = 36
        case "cicp": expected = 12
        case "chrm": expected = data.count >= 12 ? 12 + 8 * be(data, 8, 2) : nil
        case "mft1": expected = lut8Size(data)
        case "mft2": expected = lut16Size(data)
        case "mAB ", "mBA ": try checkLutAB(data, name); return
        default: throw fail("tag \(name) has a type (\(type)) whose size ConsentGate cannot check")
        }
        guard let expected, expected == data.count else {
            throw fail("tag \(name) (\(type)) is \(data.count) bytes, not the size its values take")
        }
    }

    static func power(_ base: Int, _ exponent: Int) -> Int? {
        var result = 1
        for _ in 0..<exponent {
            let (product, overflow) = result.multipliedReportingOverflow(by: base)
            guard !overflow, product <= maxBytes else { return nil }
            result = product
        }
        return result
    }

    static func lut8Size(_ data: [UInt8]) -> Int? {
        guard data.count >= 48 else { return nil }
        let inputs = Int(data[8])
        let outputs = Int(data[9])
        guard let grid = power(Int(data[10]), inputs) else { return nil }
        return 48 + 256 * inputs + grid * outputs + 256 * outputs
    }

    static func lut16Size(_ data: [UInt8]) -> Int? {
        guard data.count >= 52 else { return nil }
        let inputs = Int(data[8])
        let outputs = Int(data[9])
        guard let grid = power(Int(data[10]), inputs) else { return nil }
        let n = be(data, 48, 2)
        let m = be(data, 50, 2)
        return 52 + 2 * (n * inputs + grid * outputs + m * outputs)
    }

    /// lutAtoBType / lutBtoAType: its elements (curves, matrix, CLUT) must cover the tag after its 32-byte header,
    /// with at most 3 zero bytes of alignment after each.
    static func checkLutAB(_ data: [UInt8], _ name: String) throws(MediaError) {
        func bad(_ why: String) -> MediaError { fail("tag \(name): \(why)") }
        guard data.count >= 32 else { throw bad("too short") }
        let inputs = Int(data[8])
        let outputs = Int(data[9])
        let isAtoB = signature(data, 0) == "mAB "
        // Offsets: B curves, matrix, M curves, CLUT, A curves.
        let offsets = (0..<5).map { be(data, 12 + 4 * $0, 4) }
        let bCount = isAtoB ? outputs : inputs
        let aCount = isAtoB ? inputs : outputs
        var elements: [Range<Int>] = []
        func curves(_ start: Int, _ count: Int) throws(MediaError) {
            var at = start
            for _ in 0..<count {
                guard at + 12 <= data.count else { throw bad("a curve runs past its end") }
                let length: Int
                switch signature(data, at) {
                case "curv": length = 12 + 2 * be(data, at + 8, 4)
                case "para":
                    guard let params = [0: 4, 1: 12, 2: 16, 3: 20, 4: 28][be(data, at + 8, 2)] else {
                        throw bad("unknown parametric curve")
                    }
                    length = 12 + params
                default: throw bad("a curve of unknown type")
                }
                guard length <= data.count - at else { throw bad("a curve runs past its end") }
                elements.append(at..<(at + length))
                at += length
                while at % 4 != 0 && at < data.count { at += 1 }
            }
        }
        if offsets[0] != 0 { try curves(offsets[0], bCount) }
        if offsets[1] != 0 {
            guard offsets[1] + 48 <= data.count else { throw bad("matrix runs past its end") }
            elements.append(offsets[1]..<(offsets[1] + 48))
        }
        if offsets[2] != 0 { try curves(offsets[2], isAtoB ? outputs : inputs) }
        if offsets[3] != 0 {
            let at = offsets[3]
            guard at + 20 <= data.count else { throw bad("CLUT runs past its end") }
            guard inputs <= 16 else { throw bad("more than 16 input channels") }
            var points = 1
            for index in 0..<inputs {
                points *= Int(data[at + index])
                guard points <= maxBytes else { throw bad("CLUT too large") }
            }
            let precision = Int(data[at + 16])
            guard precision == 1 || precision == 2 else { throw bad("CLUT precision \(precision)") }
            let length = 20 + points * outputs * precision
            guard length <= data.count - at else { throw bad("CLUT runs past its end") }
            elements.append(at..<(at + length))
        }
        if offsets[4] != 0 { try curves(offsets[4], aCount) }
        // Covered exactly: from 32 to the end, elements in order, gaps only alignment zeros.
        var at = 32
        for element in Set(elements).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            guard element.lowerBound >= at else { throw bad("elements overlap") }
            guard element.lowerBound - at <= 3, data[at..<element.lowerBound].allSatisfy({ $0 == 0 }) else {
                throw bad("bytes no element uses at offset \(at)")
            }
            at = element.upperBound
        }
        guard data.count - at <= 3, data[at...].allSatisfy({ $0 == 0 }) else {
            throw bad("\(data.count - at) bytes after its last element")
        }
    }
}
