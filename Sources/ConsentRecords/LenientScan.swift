import Foundation

/// What a file that is not a valid record says about authorizations, read as leniently as possible: broken JSON,
/// unknown fields, wrong types, duplicate keys, bytes that are not UTF-8, a bare `.minisig`. Nothing found here
/// is ever trusted to *permit* anything; it is used only to *block* (SPEC §5 "doubt blocks").
struct LenientScan {
    /// Ids of verified authorizations named anywhere as a whole token, and the ids in `authorization`,
    /// `supersedes` and (for what is not a revocation) `id` values.
    var blocks: Set<String> = []
    /// An `authorization` value was found (a revocation whose target is known), or this is an authorization
    /// whose own id was found: either way it is known which authorization the doubt concerns.
    var concernKnown = false

    enum Kind { case authorization, revocation, unknown }

    /// `known`: verified authorization ids by their lower-case spelling.
    init(contents: [[UInt8]], names: [[UInt8]], known: [String: String]) {
        var kind = Kind.unknown
        var ids: [String] = []
        var targets: [String] = []
        func note(type: String) {
            if type.contains("revocation") {
                kind = .revocation
            } else if type.contains("authorization") && kind == .unknown {
                kind = .authorization
            }
        }
        var texts: [[UInt8]] = names
        for bytes in contents {
            texts.append(bytes)
            let literals = LenientScan.stringLiterals(bytes)
            texts += literals.map { Array($0.value.utf8) }
            for (index, literal) in literals.enumerated().dropLast() {
                let next = literals[index + 1]
                guard bytes[literal.end..<next.start].allSatisfy({ [0x20, 0x09, 0x0A, 0x0D, 0x3A].contains($0) }),
                    bytes[literal.end..<next.start].filter({ $0 == 0x3A }).count == 1
                else { continue }
                let value = next.value.trimmingCharacters(in: .whitespacesAndNewlines)
                switch literal.value.lowercased() {
                case "type": note(type: value)
                case "id": ids.append(value)
                case "authorization": targets.append(value)
                case "supersedes": targets.append(value)
                default: break
                }
            }
            // A minisign trusted comment: "trusted comment: type=... id=... signed_at=...".
            let text = String(decoding: bytes, as: UTF8.self)
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("trusted comment:") {
                for word in line.split(whereSeparator: \.isWhitespace) {
                    if word.hasPrefix("id=") { ids.append(String(word.dropFirst(3))) }
                    if word.hasPrefix("type=") { note(type: String(word.dropFirst(5))) }
                }
            }
        }
        let longest = known.keys.map(\.utf8.count).max() ?? 0
        for text in texts {
            for token in LenientScan.tokens(text) {
                blocks.formUnion(LenientScan.match(token, known: known, longest: longest))
            }
        }
        let validTargets = targets.filter(RecordParser.isValidID)
        blocks.formUnion(validTargets)
        if kind != .revocation { blocks.formUnion(ids.filter(RecordParser.isValidID)) }
        concernKnown =
            !validTargets.isEmpty || (kind == .authorization && ids.contains(where: RecordParser.isValidID))
            || !blocks.isDisjoint(with: known.values)
    }

    static func isIDByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || byte == 0x2E || byte == 0x5F || byte == 0x2D
    }

    /// Maximal runs of id characters (letters, digits, '.', '_', '-'), in lower case.
    static func tokens(_ bytes: [UInt8]) -> [String] {
        var tokens: [String] = []
        var start: Int? = nil
        for index in 0...bytes.count {
            if index < bytes.count, isIDByte(bytes[index]) {
                if start == nil { start = index }
            } else if let begin = start {
                tokens.append(String(decoding: bytes[begin..<index], as: UTF8.self).lowercased())
                start = nil
            }
        }
        return tokens
    }

    /// The known ids a token names. A token equal to a known id names that one only (so "AUTH-50" does not
    /// name "AUTH-5"); otherwise a leading '.', '-' or '_' (a hidden name), trailing ".ext" parts
    /// ("AUTH-5.JSON", "AUTH-5.json.minisig") and a "-revoked..." tail (a revocation's conventional id) are
    /// taken off in turn. Letter case is ignored: a renamed file must not escape by it.
    ///
    /// Linear in the token's length: only prefixes no longer than the longest known id can name one, so the
    /// ".ext" parts are taken off from the first dot past that length, and the "-revoked" tail is looked for once
    /// (a file of `a.a.a.…` costs what any file of its size costs).
    static func match(_ token: String, known: [String: String], longest: Int) -> [String] {
        if let id = known[token] { return [id] }
        guard longest > 0 else { return [] }
        var bytes = Array(token.utf8)[...]
        while let first = bytes.first, first == UInt8(ascii: ".") || first == UInt8(ascii: "-") || first == UInt8(ascii: "_") {
            bytes = bytes.dropFirst()
        }
        var found: [String] = []
        func lookUp(_ slice: ArraySlice<UInt8>) {
            if slice.count <= longest, let id = known[String(decoding: slice, as: UTF8.self)] { found.append(id) }
        }
        // The whole candidate, then each prefix that ends before a dot, longest first (as the dots are taken off).
        let ends = [bytes.endIndex] + bytes.indices.reversed().filter {
            bytes[$0] == UInt8(ascii: ".") && $0 - bytes.startIndex <= longest
        }
        // "-revoked" tail: what comes before its first occurrence, in the candidate or one of its prefixes.
        let marker = Array("-revoked".utf8)
        var revokedAt: Int? = nil
        if bytes.count >= marker.count {
            var index = bytes.startIndex
            while index + marker.count <= bytes.endIndex {
                if bytes[index] == marker[0] && bytes[index..<index + marker.count].elementsEqual(marker) {
                    revokedAt = index
                    break
                }
                index += 1
            }
        }
        for end in ends {
            lookUp(bytes[bytes.startIndex..<end])
            if let at = revokedAt, at + marker.count <= end { lookUp(bytes[bytes.startIndex..<at]) }
        }
        return found
    }

    struct Literal {
        var value: String
        /// Offset of the opening quote, and just after the closing one.
        var start: Int
        var end: Int
    }

    /// Every double-quoted string in the bytes, escapes decoded where they make sense, to the end of the
    /// bytes when a string is never closed; invalid UTF-8 becomes U+FFFD.
    static func stringLiterals(_ bytes: [UInt8]) -> [Literal] {
        var literals: [Literal] = []
        var index = 0
        while index < bytes.count {
            guard bytes[index] == 0x22 else {
                index += 1
                continue
            }
            let start = index
            index += 1
            var value: [UInt8] = []
            var closed = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x22 {
                    closed = true
                    index += 1
                    break
                }
                if byte == 0x5C, index + 1 < bytes.count {
                    let escaped = bytes[index + 1]
                    index += 2
                    switch escaped {
                    case UInt8(ascii: "n"): value.append(0x0A)
                    case UInt8(ascii: "t"): value.append(0x09)
                    case UInt8(ascii: "r"): value.append(0x0D)
                    case UInt8(ascii: "b"): value.append(0x08)
                    case UInt8(ascii: "f"): value.append(0x0C)
                    case UInt8(ascii: "u"):
                        if index + 4 <= bytes.count,
                            let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
                        {
                            index += 4
                            value += Array(String(Unicode.Scalar(code).map(Character.init) ?? "\u{FFFD}").utf8)
                        }
                    default: value.append(escaped)
                    }
                    continue
                }
                value.append(byte)
                index += 1
            }
            literals.append(Literal(value: String(decoding: value, as: UTF8.self), start: start, end: index))
            if !closed { break }
        }
        return literals
    }
}
