// libFuzzer target: the trust file (SPEC §6), YAML text through Yams to TrustStore.parse. Beyond "no crash": every
// key accepted has a key_id that is its public key's own id, roles, and valid dates; and the entry `keys generate`
// prints for it (TrustStore.entry) parses back to the same key, comment included (quotes become apostrophes).
// Run with Scripts/fuzz trust [SECONDS].
import ConsentRecords

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    guard let text = String(validating: bytes, as: UTF8.self) else { return -1 }
    guard let store = try? TrustStore.parse(text, source: "fuzz.yml") else { return 0 }
    for (id, key) in store.keys {
        if id != key.keyID || key.keyID != key.publicKey.keyIDHex { oracleFailure("key_id \(id) is not its key's id") }
        if key.roles.isEmpty { oracleFailure("key \(id) has no role") }
        if let until = key.validUntil, until < key.validFrom { oracleFailure("key \(id) ends before it starts") }
        if key.status == .retired && key.validUntil == nil { oracleFailure("retired key \(id) has no valid_until") }
        let comment = key.comment ?? ""
        let entry = TrustStore.entry(
            for: key.publicKey, roles: KeyRole.allCases.filter(key.roles.contains), validFrom: key.validFrom,
            comment: comment)
        let back: TrustStore
        do { back = try TrustStore.parse(entry, source: "entry") } catch {
            oracleFailure("the entry printed for key \(id) does not parse: \(error)\n\(entry)")
        }
        guard back.keys.count == 1, let same = back.keys[id], same.publicKey == key.publicKey,
            same.roles == key.roles, same.validFrom == key.validFrom, same.status == .active,
            same.comment == comment.replacingOccurrences(of: "\"", with: "'")
        else { oracleFailure("the entry printed for key \(id) reads back as something else:\n\(entry)") }
    }
    return 0
}
