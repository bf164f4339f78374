import Foundation
import Yams

/// The privacy office's defaults for the fields an auditor expects (SPEC §5: "`authorize` takes them from options
/// or a defaults file"), read by `authorize --defaults FILE` (or a pipeline's `office_defaults:`) and the office
/// app. An option given on the command line wins over the file.
///
///     covered_entity: Example Clinic
///     recipients: [Example Clinic marketing team]
///     recorded_by: office-7
///     template_id: MKT-AUTH-v3
///     signer: patient
public struct OfficeDefaults: Sendable, Equatable {
    public var coveredEntity: String?
    public var recipients: [String]?
    public var recordedBy: String?
    public var templateID: String?
    public var signer: String?

    public init() {}

    static let keys: Set<String> = [
        "covered_entity", "recipients", "recorded_by", "template_id", "signer",
    ]

    public static func load(path: String) throws(RecordError) -> OfficeDefaults {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RecordError(reason: "cannot read the defaults file \(path)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(RecordError) -> OfficeDefaults {
        func fail(_ why: String) -> RecordError { RecordError(reason: "\(file): \(why)") }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw fail("not valid YAML: \(error)") }
        guard case .mapping(let map)? = node else { throw fail("must be a YAML mapping of \(keys.sorted().joined(separator: ", "))") }
        var defaults = OfficeDefaults()
        var seen = Set<String>()
        for (key, value) in map {
            guard let name = key.string, keys.contains(name) else {
                throw fail("unknown key \(key.string ?? "?") (known: \(keys.sorted().joined(separator: ", ")))")
            }
            guard seen.insert(name).inserted else { throw fail("key \(name) appears twice") }
            func text() throws(RecordError) -> String {
                guard let string = value.scalar?.string, !string.isEmpty else { throw fail("\(name) must be text") }
                return string
            }
            func list() throws(RecordError) -> [String] {
                if let single = value.scalar?.string, !single.isEmpty { return [single] }
                guard case .sequence(let items) = value else { throw fail("\(name) must be a list of text") }
                var result: [String] = []
                for item in items {
                    guard let string = item.scalar?.string, !string.isEmpty else { throw fail("\(name) must be a list of text") }
                    result.append(string)
                }
                guard !result.isEmpty else { throw fail("\(name) must not be empty") }
                return result
            }
            switch name {
            case "covered_entity": defaults.coveredEntity = try text()
            case "recorded_by": defaults.recordedBy = try text()
            case "template_id": defaults.templateID = try text()
            case "signer":
                let kind = try text()
                guard kind == "patient" || kind == "representative" else {
                    throw fail("signer must be patient or representative")
                }
                defaults.signer = kind
            default: defaults.recipients = try list()
            }
        }
        return defaults
    }
}
