/// Text from files (names, record fields, reasons that quote them) made safe to print on one line: output must
/// not lie. A file named "a\n3 valid, 0 invalid\n.json" must not print a line of its own, a right-to-left
/// override must not turn a name around, and bytes that are not UTF-8 must be seen as bytes.
///
/// Escape once, where the text is printed (a terminal, a log line); keep the raw value in data (JSON, ledger).
public enum Escape {
    /// `\n`, `\r`, `\t`, `\\`; other C0/C1 controls and DEL as `\xNN`; invisible or reordering characters
    /// (format characters such as bidi overrides and zero-width marks, line and paragraph separators) as `\u{NNNN}`.
    public static func display(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars { append(scalar, to: &out) }
        return out
    }

    /// As `display(_: String)`, and every byte that is not part of valid UTF-8 as `\xNN`.
    public static func display(_ bytes: [UInt8]) -> String {
        var out = ""
        var index = 0
        while index < bytes.count {
            if let (scalar, length) = decodeScalar(bytes, at: index) {
                append(scalar, to: &out)
                index += length
            } else {
                out += hexByte(bytes[index])
                index += 1
            }
        }
        return out
    }

    static func append(_ scalar: Unicode.Scalar, to out: inout String) {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\\": out += "\\\\"
        default:
            let value = scalar.value
            if value < 0x20 || (0x7F...0x9F).contains(value) {
                out += hexByte(UInt8(value))
                return
            }
            switch scalar.properties.generalCategory {
            case .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                out += "\\u{" + String(value, radix: 16, uppercase: true) + "}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }

    /// One well-formed UTF-8 sequence (shortest form, no surrogates, at most U+10FFFF) and its length.
    static func decodeScalar(_ bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        let first = bytes[index]
        if first < 0x80 { return (Unicode.Scalar(first), 1) }
        let length: Int
        var value: UInt32
        switch first {
        case 0xC2...0xDF:
            length = 2
            value = UInt32(first & 0x1F)
        case 0xE0...0xEF:
            length = 3
            value = UInt32(first & 0x0F)
        case 0xF0...0xF4:
            length = 4
            value = UInt32(first & 0x07)
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
