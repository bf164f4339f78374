import Foundation
import Yams

/// A configuration error, naming the file and the key.
public struct PipelineError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One pipeline: a YAML file in Pipelines/ (SPEC §1). Relative paths resolve against the file's folder.
public struct PipelineConfig: Sendable {
    public var file: String
    public var name: String
    public var channel: String
    public var inbox: String
    public var publish: String
    public var quarantine: String
    public var archive: String
    public var retracted: String
    public var authorizations: String
    public var trust: String
    public var ledger: String
    public var settleSeconds: Double = 30
    public var rescanSeconds: Double = 60
    public var keepOrientation = true
    public var keepICC = true
    public var verifyDecode = false

    /// Where claimed files wait: inside the inbox (so the claim is a rename on one filesystem), hidden.
    public var work: String { inbox + "/.consentgate-work" }

    static let topKeys: Set<String> = [
        "name", "channel", "folders", "authorizations", "trust", "ledger", "settle_seconds", "rescan_seconds",
        "sanitize",
        "verify_decode",
    ]
    static let folderKeys: Set<String> = ["inbox", "publish", "quarantine", "archive", "retracted"]

    public static func load(path: String) throws(PipelineError) -> PipelineConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw PipelineError("\(path): cannot read the pipeline file (\(error.localizedDescription))")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(PipelineError) -> PipelineConfig {
        func fail(_ why: String) -> PipelineError { PipelineError("\(path): \(why)") }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw fail("not valid YAML: \(error)") }
        guard case .mapping(let root)? = node else { throw fail("must be a YAML mapping of the keys in SPEC §1") }
        let top = try mapping(root, known: topKeys, place: "", fail: fail)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ value: String) -> String {
            let absolute = value.hasPrefix("/") ? value : (base as NSString).appendingPathComponent(value)
            return (absolute as NSString).standardizingPath
        }
        func string(_ values: [String: Node], _ key: String, _ place: String = "") throws(PipelineError) -> String {
            guard let value = values[key] else { throw fail("missing key \(place)\(key)") }
            guard let text = value.scalar?.string, !text.isEmpty else { throw fail("\(place)\(key) must be text") }
            return text
        }
        guard case .mapping(let foldersNode)? = top["folders"] else { throw fail("missing key folders (a mapping)") }
        let folders = try mapping(foldersNode, known: folderKeys, place: "folders.", fail: fail)
        let channel = try string(top, "channel")
        guard
            channel.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
            })
        else { throw fail("channel must be lower-case letters, digits, '-' or '_'") }
        var config = PipelineConfig(
            file: path, name: try string(top, "name"), channel: channel,
            inbox: resolve(try string(folders, "inbox", "folders.")),
            publish: resolve(try string(folders, "publish", "folders.")),
            quarantine: resolve(try string(folders, "quarantine", "folders.")),
            archive: resolve(try string(folders, "archive", "folders.")),
            retracted: resolve(try string(folders, "retracted", "folders.")),
            authorizations: resolve(try string(top, "authorizations")), trust: resolve(try string(top, "trust")),
            ledger: resolve(try string(top, "ledger")))
        func number(_ key: String) throws(PipelineError) -> Double? {
            guard let node = top[key] else { return nil }
            guard let value = node.scalar.flatMap({ Double($0.string) }), value >= 0, value < 86_400 else {
                throw fail("\(key) must be a number of seconds (0 to 86399)")
            }
            return value
        }
        config.settleSeconds = try number("settle_seconds") ?? 30
        config.rescanSeconds = max(1, try number("rescan_seconds") ?? 60)
        func flag(_ values: [String: Node], _ key: String, _ place: String) throws(PipelineError) -> Bool? {
            guard let node = values[key] else { return nil }
            switch node.scalar?.string {
            case "true": return true
            case "false": return false
            default: throw fail("\(place)\(key) must be true or false")
            }
        }
        if let sanitizeNode = top["sanitize"] {
            guard case .mapping(let map) = sanitizeNode else { throw fail("sanitize must be a mapping") }
            let sanitize = try mapping(map, known: ["keep_orientation", "keep_icc"], place: "sanitize.", fail: fail)
            config.keepOrientation = try flag(sanitize, "keep_orientation", "sanitize.") ?? true
            config.keepICC = try flag(sanitize, "keep_icc", "sanitize.") ?? true
        }
        config.verifyDecode = try flag(top, "verify_decode", "") ?? false
        try config.checkLayout(fail: fail)
        return config
    }

    static func mapping(_ map: Node.Mapping, known: Set<String>, place: String, fail: (String) -> PipelineError)
        throws(PipelineError)
        -> [String: Node]
    {
        var values: [String: Node] = [:]
        for (key, value) in map {
            guard let name = key.string else {
                throw fail("a key in \(place.isEmpty ? "the file" : place) is not text")
            }
            guard known.contains(name) else { throw fail("unknown key \(place)\(name)") }
            guard values.updateValue(value, forKey: name) == nil else {
                throw fail("key \(place)\(name) appears twice")
            }
        }
        return values
    }

    /// Folders that must not nest: ConsentGate's own folders may not lie inside the inbox (staff could read
    /// or drop files there) and the inbox may not lie inside them.
    func checkLayout(fail: (String) -> PipelineError) throws(PipelineError) {
        func inside(_ child: String, _ parent: String) -> Bool { child == parent || child.hasPrefix(parent + "/") }
        for (key, folder) in [
            ("publish", publish), ("quarantine", quarantine), ("archive", archive), ("retracted", retracted),
        ] {
            if inside(folder, inbox) { throw fail("folders.\(key) (\(folder)) is inside the inbox") }
            if inside(inbox, folder) { throw fail("the inbox is inside folders.\(key) (\(folder))") }
        }
        if inside(ledger, inbox) { throw fail("the ledger is inside the inbox") }
        if inside(authorizations, inbox) || inside(trust, inbox) {
            throw fail("authorizations and trust must be outside the inbox")
        }
    }

    /// Checks what must exist and creates ConsentGate's own folders (quarantine, archive, retracted: 0700).
    /// With `create: false` (a dry run) it only checks, and creates nothing.
    public func prepare(create: Bool = true) throws(PipelineError) {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: inbox, isDirectory: &isFolder), isFolder.boolValue else {
            throw PipelineError("\(file): folders.inbox \(inbox) does not exist")
        }
        guard manager.fileExists(atPath: authorizations, isDirectory: &isFolder), isFolder.boolValue else {
            throw PipelineError("\(file): authorizations folder \(authorizations) does not exist")
        }
        guard manager.isReadableFile(atPath: trust) else {
            throw PipelineError("\(file): trust file \(trust) cannot be read")
        }
        for (folder, mode) in [
            (publish, 0o755), (quarantine, 0o700), (archive, 0o700), (retracted, 0o700), (work, 0o700),
        ] {
            if !create {
                if manager.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
                    throw PipelineError("\(file): \(folder) is not a folder")
                }
                continue
            }
            do {
                try manager.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
                if mode == 0o700 { try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: folder) }
            } catch { throw PipelineError("\(file): cannot create \(folder): \(error.localizedDescription)") }
            guard manager.isWritableFile(atPath: folder) else {
                throw PipelineError("\(file): \(folder) is not writable")
            }
        }
        let ledgerFolder = (ledger as NSString).deletingLastPathComponent
        if !create { return }
        do { try manager.createDirectory(atPath: ledgerFolder, withIntermediateDirectories: true) } catch {
            throw PipelineError("\(file): cannot create the ledger's folder \(ledgerFolder)")
        }
        guard manager.isWritableFile(atPath: ledgerFolder) else {
            throw PipelineError("\(file): the ledger's folder \(ledgerFolder) is not writable")
        }
    }
}
