import ByteKit

/// `ftyp` and `elng` as published: four-character codes and a language tag are bytes no decoder reads beyond
/// matching them against what it knows, so only known values are published.
extension ISOExact {
    /// Brands a reader may act on (ISO/IEC 14496-12/-14/-15, 23008-12 HEIF and MIAF, 23000-22 AVIF, 3GPP/3GPP2,
    /// QuickTime, Apple, CMAF and DASH, and the major brands of camera formats built on them).
    static let knownBrands: Set<String> = {
        var brands: Set<String> = [
            "isom", "mp41", "mp42", "mp71", "avc1", "hvc1", "hev1", "hvce", "av01", "vp09", "heic", "heix", "heim",
            "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "mif2", "msf1", "miaf", "avif", "avis", "avio", "MiHE",
            "MiPr", "MiHB", "MiHA", "MiHM", "MiHS", "MiAn", "MiCm", "MiAC", "MiTi", "MA1A", "MA1B", "jpeg", "jpgs",
            "qt  ", "M4V ", "M4A ", "M4P ", "M4B ", "M4VH", "M4VP", "mp21", "dash", "dsms", "msdh", "msix", "cmfc",
            "cmf2", "cmfs", "cmff", "cmfl", "iso6", "emsg", "3g2a", "3g2b", "3g2c", "3ge6", "3ge7", "3ge9", "3gg6",
            "3gg9", "3gh9", "3gm9", "3gr9", "3gs9", "3gt9", "kddi", "mmp4", "XAVC", "MSNV", "CAEP", "caqv", "NIKO",
            "niko", "f4v ", "F4V ", "isml", "piff", "dby1", "dbv1", "dbv2", "dbv8", "dvr1", "avc2", "avc3", "avc4",
            "hvt1", "unif", "j2ki", "j2is", "mjp2", "mj2s", "crx ",
        ]
        for digit in 2...9 { brands.insert("iso\(digit)") }
        for digit in 4...9 { brands.insert("3gp\(digit)") }
        return brands
    }()

    /// An `ftyp` payload as published: the major brand if known (else `isom`, or `3gp4` for a 3GPP one, which are
    /// read the same way), a zero minor version (a number no decoder acts on), and the compatible brands with
    /// each unknown one replaced by the published major brand (so the box keeps its size).
    static func publishedFileType(_ d: [UInt8]) throws(MediaError) -> [UInt8] {
        guard d.count >= 8, (d.count - 8) % 4 == 0 else {
            throw fail("ftyp is not a major brand, a minor version and whole compatible brands")
        }
        func brand(_ at: Int) -> String { String(decoding: d[at..<(at + 4)], as: UTF8.self) }
        var major = Array(d[0..<4])
        if !knownBrands.contains(brand(0)) { major = Array((brand(0).hasPrefix("3g") ? "3gp4" : "isom").utf8) }
        var out = major + [0, 0, 0, 0]
        for at in stride(from: 8, to: d.count, by: 4) {
            out += knownBrands.contains(brand(at)) ? Array(d[at..<(at + 4)]) : major
        }
        return out
    }

    /// Whether an `elng` payload's text (after version and flags, up to its zero) is a language tag of the
    /// registered shape: a 2-3 letter language, an optional 4-letter script and an optional 2-letter or 3-digit
    /// region (BCP 47 without variants, extensions or private use, which can hold any word).
    static func isLanguageTag(_ text: [UInt8]) -> Bool {
        let parts = text.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false).map(Array.init)
        func letters(_ part: [UInt8]) -> Bool {
            part.allSatisfy { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
        }
        func digits(_ part: [UInt8]) -> Bool { part.allSatisfy { (0x30...0x39).contains($0) } }
        guard let language = parts.first, (2...3).contains(language.count), letters(language) else { return false }
        var rest = parts.dropFirst()
        if let script = rest.first, script.count == 4, letters(script) { rest = rest.dropFirst() }
        if let region = rest.first, (region.count == 2 && letters(region)) || (region.count == 3 && digits(region)) {
            rest = rest.dropFirst()
        }
        return rest.isEmpty
    }
}
