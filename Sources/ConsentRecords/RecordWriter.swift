import Foundation
import ByteKit

/// Writes records as readable, deterministic JSON and signs them (SPEC §5).
public enum RecordWriter {
    /// The JSON of an authorization, fields in the order of SPEC §5.
    public static func json(_ a: Authorization) -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [
            ("type", .string(Authorization.type)), ("id", .string(a.id)), ("subject", .string(a.subject)),
        ]
        if let entity = a.coveredEntity { members.append(("covered_entity", .string(entity))) }
        members.append(("purposes", .array(a.purposes.map(JSONValue.string))))
        members.append(("channels", .array(a.channels.map(JSONValue.string))))
        if let recipients = a.recipients { members.append(("recipients", .array(recipients.map(JSONValue.string)))) }
        members.append(
            (
                "assets",
                .array(
                    a.assets.map { asset in
                        var fields: [(key: String, value: JSONValue)] = []
                        if let presented = asset.presentedSHA256 {
                            fields.append(("presented_sha256", .string(presented)))
                        }
                        if let content = asset.contentSHA256 { fields.append(("content_sha256", .string(content))) }
                        if let file = asset.fileSHA256 { fields.append(("file_sha256", .string(file))) }
                        if let label = asset.label { fields.append(("label", .string(label))) }
                        if let people = asset.peopleInFrame {
                            fields.append(("people_in_frame", .number(Double(people), isInteger: true)))
                        }
                        return .object(fields)
                    })
            ))
        members.append(("effective", .string(a.effective.description)))
        members.append(("expires", .string(a.expires.description)))
        if let day = a.signedOn { members.append(("signed_on", .string(day.description))) }
        if let signer = a.signer {
            var fields: [(key: String, value: JSONValue)] = [("kind", .string(signer.kind))]
            if let authority = signer.authority { fields.append(("authority", .string(authority))) }
            members.append(("signer", .object(fields)))
        }
        if let form = a.form {
            var fields: [(key: String, value: JSONValue)] = []
            if let template = form.templateID { fields.append(("template_id", .string(template))) }
            if let document = form.documentSHA256 { fields.append(("document_sha256", .string(document))) }
            members.append(("form", .object(fields)))
        }
        if let by = a.recordedBy { members.append(("recorded_by", .string(by))) }
        if let at = a.recordedAt { members.append(("recorded_at", .string(Timestamp.format(at)))) }
        if let old = a.supersedes { members.append(("supersedes", .string(old))) }
        return Array((JSONWriter.write(.object(members)) + "\n").utf8)
    }

    public static func json(_ r: Revocation) -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [
            ("type", .string(Revocation.type)), ("id", .string(r.id)), ("authorization", .string(r.authorization)),
            ("received_at", .string(Timestamp.format(r.receivedAt))),
            ("scope", r.channels.map { .array($0.map(JSONValue.string)) } ?? .string("all")),
        ]
        if let evidence = r.evidenceSHA256 { members.append(("evidence_sha256", .string(evidence))) }
        if let by = r.recordedBy { members.append(("recorded_by", .string(by))) }
        return Array((JSONWriter.write(.object(members)) + "\n").utf8)
    }

    /// Signs `json` and writes `ID.json.minisig`, then `ID.json`, into `folder` (each via temp + fsync +
    /// rename, signature first so a reader never sees a record without its signature). Refuses to replace.
    @discardableResult
    public static func write(
        _ json: [UInt8], record: Record, to folder: String, key: Minisign.SecretKey, now: Date = Date()
    )
        throws(RecordError) -> String
    {
        // What is written must read back as exactly this record.
        guard let parsed = try? RecordParser.parse(json), parsed == record || parsed.id == record.id else {
            throw RecordError(reason: "internal error: the record does not read back")
        }
        let type = record.type
        let path = (folder as NSString).appendingPathComponent(record.id + ".json")
        guard !FileIO.exists(path), !FileIO.exists(path + ".minisig") else {
            throw RecordError(
                reason: "\(path) exists already; records are never replaced (write a new one that supersedes it)")
        }
        let comment = "type=\(type) id=\(record.id) signed_at=\(Timestamp.format(now))"
        let signature: String
        do {
            signature = try Minisign.sign(
                json, with: key, trustedComment: comment,
                untrustedComment: "signature from consentgate key \(key.publicKey.keyIDHex)")
        } catch { throw RecordError(reason: "\(error)") }
        do {
            let pendingSignature = try FileIO.writePending(Array(signature.utf8), finalPath: path + ".minisig")
            try pendingSignature.commit()
            let pendingRecord = try FileIO.writePending(json, finalPath: path)
            try pendingRecord.commit()
        } catch { throw RecordError(reason: "\(error)") }
        return path
    }
}

/// A JSON serializer for `JSONValue`: two-space indentation, keys in the given order.
enum JSONWriter {
    static func write(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n"
                + members.map { inner + quote($0.key) + ": " + write($0.value, indent: inner) }.joined(separator: ",\n")
                + "\n" + indent + "}"
        case .array(let values):
            if values.isEmpty { return "[]" }
            if values.allSatisfy({ if case .string = $0 { return true } else { return false } }) {
                return "[" + values.map { write($0) }.joined(separator: ", ") + "]"
            }
            return "[\n" + values.map { inner + write($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent
                + "]"
        case .string(let text): return quote(text)
        case .number(let number, let isInteger): return isInteger ? String(Int(number)) : String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Key files: `NAME.key` (mode 0600, minisign's unencrypted layout) and `NAME.pub` (minisign's format).
public enum KeyFiles {
    public static func generate(name: String, folder: String) throws(RecordError) -> (
        key: Minisign.SecretKey, secretPath: String, publicPath: String
    ) {
        guard RecordParser.isValidID(name) else {
            throw RecordError(reason: "key name must be letters, digits, '.', '_' or '-'")
        }
        let secretPath = (folder as NSString).appendingPathComponent(name + ".key")
        let publicPath = (folder as NSString).appendingPathComponent(name + ".pub")
        guard !FileIO.exists(secretPath), !FileIO.exists(publicPath) else {
            throw RecordError(reason: "\(secretPath) or \(publicPath) exists already; keys are never overwritten")
        }
        let key = Minisign.SecretKey.generate()
        do {
            let secret = try FileIO.writePending(
                Array(
                    key.fileText(
                        comment: "consentgate secret key \(name) \(key.publicKey.keyIDHex) (unencrypted, keep private)"
                    ).utf8),
                finalPath: secretPath, mode: 0o600)
            try secret.commit()
            let pub = try FileIO.writePending(Array(key.publicKey.fileText.utf8), finalPath: publicPath, mode: 0o644)
            try pub.commit()
        } catch { throw RecordError(reason: "\(error)") }
        return (key, secretPath, publicPath)
    }

    /// Loads a secret key, refusing a file that others than its owner may read.
    public static func loadSecretKey(path: String) throws(RecordError) -> Minisign.SecretKey {
        var info = stat()
        guard stat(path, &info) == 0 else { throw RecordError(reason: "cannot read key file \(path)") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw RecordError(
                reason:
                    "key file \(path) is readable by group or others (mode \(String(mode, radix: 8))); run: chmod 600 \(path)"
            )
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RecordError(reason: "cannot read key file \(path)")
        }
        do { return try Minisign.SecretKey(parsing: text) } catch { throw RecordError(reason: "\(path): \(error)") }
    }
}
