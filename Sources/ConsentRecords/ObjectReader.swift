import Foundation

/// Typed access to a JSON object's members, with errors that name the field.
struct ObjectReader {
    let members: [String: JSONValue]
    let place: String

    init(_ value: JSONValue, place: String) throws(RecordError) {
        guard case .object(let list) = value else { throw RecordError(reason: "\(place) must be a JSON object") }
        members = Dictionary(list.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        self.place = place
    }

    func refuseUnknown(_ known: Set<String>) throws(RecordError) {
        if let unknown = members.keys.sorted().first(where: { !known.contains($0) }) {
            throw RecordError(reason: "unknown field \"\(unknown)\" in \(place)")
        }
    }

    func optional(_ name: String) -> JSONValue? { members[name] }

    func string(_ name: String) throws(RecordError) -> String {
        guard let value = members[name] else {
            throw RecordError(reason: "missing required field \"\(name)\" in \(place)")
        }
        guard case .string(let text) = value else {
            throw RecordError(reason: "\"\(name)\" in \(place) must be a string, not \(value.typeName)")
        }
        guard !text.isEmpty else { throw RecordError(reason: "\"\(name)\" in \(place) is empty") }
        return text
    }

    func optionalString(_ name: String) throws(RecordError) -> String? {
        members[name] == nil ? nil : try string(name)
    }

    func id(_ name: String) throws(RecordError) -> String {
        let text = try string(name)
        guard RecordParser.isValidID(text) else {
            throw RecordError(
                reason: "\"\(name)\" must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        return text
    }

    func optionalHash(_ name: String) throws(RecordError) -> String? {
        guard let text = try optionalString(name) else { return nil }
        guard RecordParser.isSHA256(text) else {
            throw RecordError(reason: "\"\(name)\" in \(place) must be 64 lower-case hex digits")
        }
        return text
    }

    func day(_ name: String) throws(RecordError) -> CalendarDay {
        let text = try string(name)
        guard let day = CalendarDay(text) else {
            throw RecordError(reason: "\"\(name)\" must be a date YYYY-MM-DD, not \"\(text)\"")
        }
        return day
    }

    func array(_ name: String) throws(RecordError) -> [JSONValue] {
        guard let value = members[name] else {
            throw RecordError(reason: "missing required field \"\(name)\" in \(place)")
        }
        guard case .array(let list) = value else {
            throw RecordError(reason: "\"\(name)\" in \(place) must be a list, not \(value.typeName)")
        }
        return list
    }

    func stringList(_ name: String) throws(RecordError) -> [String] {
        let list = try array(name)
        guard !list.isEmpty else { throw RecordError(reason: "\"\(name)\" in \(place) must not be empty") }
        var strings: [String] = []
        for value in list {
            guard case .string(let text) = value, !text.isEmpty else {
                throw RecordError(reason: "\"\(name)\" in \(place) must hold non-empty strings only")
            }
            strings.append(text)
        }
        guard Set(strings).count == strings.count else {
            throw RecordError(reason: "\"\(name)\" in \(place) repeats a value")
        }
        return strings
    }

    func optionalInteger(_ name: String) throws(RecordError) -> Int? {
        guard let value = members[name] else { return nil }
        guard case .number(let number, true) = value, let integer = Int(exactly: number) else {
            throw RecordError(reason: "\"\(name)\" in \(place) must be a whole number")
        }
        return integer
    }
}
