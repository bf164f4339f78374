import Foundation
import Yams

/// What a trusted key may sign.
public enum KeyRole: String, Sendable, CaseIterable {
    case authorize, revoke
    /// Incident response: takedown records and their lifts (SPEC §5).
    case takedown
    /// How many people a picture shows, where the face detector errs (`consentgate.review/v1`, issue #24).
    case review
}

public enum KeyStatus: String, Sendable, CaseIterable {
    /// In use.
    case active
    /// No longer signs: what it signed up to its `valid_until` day stays valid.
    case retired
    /// Its secret may be known to others: nothing it signed is trusted, whenever it was signed.
    case compromised
}

/// One key of the trust file.
public struct TrustedKey: Sendable {
    public var keyID: String
    public var publicKey: Minisign.PublicKey
    public var roles: Set<KeyRole>
    public var validFrom: CalendarDay
    public var validUntil: CalendarDay?
    public var status: KeyStatus
    public var comment: String?
}

/// A configuration error in the trust file, naming the file and the key.
public struct TrustStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The administrator's list of trusted public keys (SPEC §6), read from YAML.
public struct TrustStore: Sendable {
    public var keys: [String: TrustedKey]

    static let fields: Set<String> = [
        "key_id", "public_key", "roles", "valid_from", "valid_until", "status", "comment",
    ]

    public init(keys: [TrustedKey]) {
        self.keys = Dictionary(keys.map { ($0.keyID, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Reads the trust file, refusing one that group or others may write (as ssh refuses such an
    /// `authorized_keys`): whoever can write it can make any key trusted.
    public static func load(path: String) throws(TrustStoreError) -> TrustStore {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o022 != 0 {
            throw TrustStoreError(
                message:
                    "\(path): the trust file is writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); whoever can write it decides which keys are trusted. Run: chmod go-w \(path)"
            )
        }
        // As ssh treats authorized_keys: owned by root or by the account that runs ConsentGate, in a folder
        // nobody else may rename it in (a folder writable by others could swap the file for their own).
        if stat(path, &info) == 0, info.st_uid != 0, info.st_uid != geteuid() {
            throw TrustStoreError(
                message:
                    "\(path): the trust file belongs to user \(info.st_uid), neither root nor the account running ConsentGate; whoever owns it decides which keys are trusted"
            )
        }
        let folder = (path as NSString).deletingLastPathComponent
        var folderInfo = stat()
        if stat(folder.isEmpty ? "." : folder, &folderInfo) == 0, folderInfo.st_mode & 0o022 != 0,
            folderInfo.st_mode & UInt32(S_ISVTX) == 0
        {
            throw TrustStoreError(
                message:
                    "\(path): the trust file's folder may be written by group or others (mode \(String(folderInfo.st_mode & 0o777, radix: 8))), so the file could be replaced. Run: chmod go-w \(folder)"
            )
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TrustStoreError(message: "\(path): cannot read the trust file (\(error.localizedDescription))")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(TrustStoreError) -> TrustStore {
        func fail(_ why: String) -> TrustStoreError { TrustStoreError(message: "\(source): \(why)") }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw fail("not valid YAML: \(error)") }
        guard let root else { throw fail("empty; list the trusted keys") }
        guard case .sequence(let list) = root else { throw fail("must be a YAML list of keys") }
        var keys: [TrustedKey] = []
        var seen = Set<String>()
        for (index, node) in list.enumerated() {
            let place = "key \(index + 1)"
            guard case .mapping(let mapping) = node else { throw fail("\(place) is not a mapping") }
            var values: [String: Node] = [:]
            for (keyNode, valueNode) in mapping {
                guard let name = keyNode.string else { throw fail("\(place) has a key that is not text") }
                guard fields.contains(name) else { throw fail("\(place) has unknown field \"\(name)\"") }
                guard values.updateValue(valueNode, forKey: name) == nil else {
                    throw fail("\(place) repeats \"\(name)\"")
                }
            }
            func text(_ name: String) throws(TrustStoreError) -> String? {
                guard let node = values[name] else { return nil }
                guard let string = node.scalar?.string else { throw fail("\(place): \"\(name)\" must be text") }
                return string
            }
            func required(_ name: String) throws(TrustStoreError) -> String {
                guard let value = try text(name), !value.isEmpty else { throw fail("\(place) is missing \"\(name)\"") }
                return value
            }
            let keyID = try required("key_id").uppercased()
            let publicKey: Minisign.PublicKey
            do { publicKey = try Minisign.PublicKey(parsing: try required("public_key")) } catch {
                throw fail("\(place) (\(keyID)): public_key: \(error)")
            }
            guard publicKey.keyIDHex == keyID else {
                throw fail("\(place): key_id \(keyID) does not match the public key's own id \(publicKey.keyIDHex)")
            }
            guard seen.insert(keyID).inserted else { throw fail("key \(keyID) is listed twice") }
            guard case .sequence(let roleNodes)? = values["roles"], !roleNodes.isEmpty else {
                throw fail("key \(keyID): \"roles\" must be a list (authorize, revoke, takedown, review)")
            }
            var roles = Set<KeyRole>()
            for node in roleNodes {
                guard let name = node.string, let role = KeyRole(rawValue: name) else {
                    throw fail("key \(keyID): unknown role \(node.string ?? "?") (authorize, revoke, takedown, review)")
                }
                roles.insert(role)
            }
            guard let validFrom = CalendarDay(try required("valid_from")) else {
                throw fail("key \(keyID): valid_from must be a date YYYY-MM-DD")
            }
            var validUntil: CalendarDay? = nil
            if let until = try text("valid_until") {
                guard let day = CalendarDay(until) else {
                    throw fail("key \(keyID): valid_until must be a date YYYY-MM-DD")
                }
                guard day >= validFrom else { throw fail("key \(keyID): valid_until is before valid_from") }
                validUntil = day
            }
            guard let status = KeyStatus(rawValue: try required("status")) else {
                throw fail("key \(keyID): status must be active, retired or compromised")
            }
            if status == .retired && validUntil == nil {
                throw fail("key \(keyID) is retired but has no valid_until (the last day it signed)")
            }
            keys.append(
                TrustedKey(
                    keyID: keyID, publicKey: publicKey, roles: roles, validFrom: validFrom, validUntil: validUntil,
                    status: status, comment: try text("comment")))
        }
        return TrustStore(keys: keys)
    }

    /// The YAML entry for a key, as `keys generate` prints it for the administrator.
    public static func entry(for key: Minisign.PublicKey, roles: [KeyRole], validFrom: CalendarDay, comment: String)
        -> String
    {
        """
        - key_id: "\(key.keyIDHex)"
          public_key: "\(key.base64)"
          roles: [\(roles.map(\.rawValue).joined(separator: ", "))]
          valid_from: "\(validFrom)"
          status: active
          comment: "\(yamlQuoted(comment.replacingOccurrences(of: "\"", with: "'")))"

        """
    }

    /// The inside of a YAML double-quoted scalar that reads back as `text`: backslashes, line breaks (YAML folds
    /// them) and characters YAML may not carry raw are escaped (found by fuzzing the trust file).
    static func yamlQuoted(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C: out += "\\\\"
            case 0x20...0x7E, 0xA0...0x2027, 0x202A...0xD7FF, 0xE000...0xFEFE, 0xFF00...0xFFFD, 0x10000...:
                out.unicodeScalars.append(scalar)
            default:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            }
        }
        return out
    }
}
