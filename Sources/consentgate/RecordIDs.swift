import ConsentRecords
import Foundation

/// The ids `authorize --supersedes` and `revoke --authorization` name, checked against the records folder they
/// write into: ids are compared without regard to letter case everywhere (SPEC §5), so a typo in case is corrected
/// to the record's own spelling, and an id no record file has is refused unless the user says why to go on.
enum RecordIDs {
    /// The spelling of `id` that a `NAME.json` in `folder` has (any letter case). Throws when none has it and
    /// `allowUnknown` is false; with it, says loudly on stderr that the id is unknown and returns `id` as given.
    static func resolve(_ id: String, option: String, folder: String, allowUnknown: Bool, command: String)
        throws(RecordError) -> String
    {
        guard RecordParser.isValidID(id) else {
            throw RecordError(reason: "\(option) \(Escape.display(id)) is not a valid record id")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw RecordError(reason: "cannot list \(folder) to find \(option) \(id): \(error.localizedDescription)")
        }
        let matches = names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }
            .filter { Registry.fold($0) == Registry.fold(id) }.sorted()
        if matches.contains(id) { return id }
        if let spelled = matches.first {
            Output.error(
                "\(command): \(option) \(Escape.display(id)): the record is \(Escape.display(spelled)).json; using its "
                    + "own spelling \(Escape.display(spelled)) (ids are compared without regard to letter case)")
            return spelled
        }
        guard allowUnknown else {
            throw RecordError(
                reason: "\(option) \(Escape.display(id)): no record \(Escape.display(id)).json in \(folder) "
                    + "(in any letter case). Check the id; if that record's file was removed on purpose, add "
                    + "--allow-unknown-id to write it anyway")
        }
        Output.error(
            "\(command): WARNING: \(option) \(Escape.display(id)) names no record in \(folder); written anyway "
                + "(--allow-unknown-id)")
        return id
    }
}
