import Foundation

/// A submitted form: `application/x-www-form-urlencoded` or `multipart/form-data` (the signed form's file).
struct FormData: Sendable {
    struct Upload: Sendable {
        var filename: String
        var bytes: [UInt8]
    }

    var fields: [String: String] = [:]
    var files: [String: Upload] = [:]

    subscript(_ name: String) -> String? { fields[name] }

    /// Text of a field, trimmed; nil when absent or empty.
    func text(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return nil
        }
        return value
    }

    static func parse(contentType: String, body: [UInt8]) -> FormData? {
        let type = contentType.lowercased()
        if type.hasPrefix("application/x-www-form-urlencoded") {
            return FormData(fields: urlEncoded(String(decoding: body, as: UTF8.self)))
        }
        if type.hasPrefix("multipart/form-data") {
            guard let range = contentType.range(of: "boundary=", options: .caseInsensitive) else { return nil }
            var boundary = String(contentType[range.upperBound...])
            if let semicolon = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semicolon]) }
            boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            guard !boundary.isEmpty else { return nil }
            return multipart(body, boundary: Array(("--" + boundary).utf8))
        }
        return nil
    }

    static func urlEncoded(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            guard let name = parts.first else { continue }
            result[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }

    /// Splits a multipart body at each boundary; each part's headers name it (and its file).
    static func multipart(_ body: [UInt8], boundary: [UInt8]) -> FormData? {
        var form = FormData()
        var starts: [Int] = []
        var index = 0
        while let found = find(boundary, in: body, from: index) {
            starts.append(found)
            index = found + boundary.count
        }
        guard starts.count >= 2 else { return nil }
        for (number, start) in starts.dropLast().enumerated() {
            var partStart = start + boundary.count
            // Skip the CRLF after the boundary line.
            if partStart + 1 < body.count, body[partStart] == 0x0D, body[partStart + 1] == 0x0A { partStart += 2 }
            var partEnd = starts[number + 1]
            // The CRLF before the next boundary belongs to it.
            if partEnd >= 2, body[partEnd - 2] == 0x0D, body[partEnd - 1] == 0x0A { partEnd -= 2 }
            guard partStart <= partEnd else { continue }
            let part = Array(body[partStart..<partEnd])
            guard let split = find([0x0D, 0x0A, 0x0D, 0x0A], in: part, from: 0) else { continue }
            let headers = String(decoding: part[..<split], as: UTF8.self)
            let content = Array(part[(split + 4)...])
            var name: String? = nil
            var filename: String? = nil
            for line in headers.components(separatedBy: "\r\n")
            where line.lowercased().hasPrefix("content-disposition:") {
                name = parameter("name", in: line)
                filename = parameter("filename", in: line)
            }
            guard let name else { continue }
            if let filename {
                if !filename.isEmpty || !content.isEmpty {
                    form.files[name] = Upload(filename: filename, bytes: content)
                }
            } else {
                form.fields[name] = String(decoding: content, as: UTF8.self)
            }
        }
        return form
    }

    /// `name="value"` in a Content-Disposition line (the exact parameter, not a suffix of another).
    static func parameter(_ key: String, in line: String) -> String? {
        for piece in line.split(separator: ";") {
            let trimmed = piece.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(key + "=") else { continue }
            var value = String(trimmed.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var index = from
        while index <= haystack.count - needle.count {
            if haystack[index] == first && Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}
