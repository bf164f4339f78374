// libFuzzer target: minisign signature files, public key files and unencrypted secret key files, all three parsers on
// every input. Beyond "no crash": a parsed public key reads back from its own file text and base64 line; a parsed
// secret key reads back from its own file text, and a signature it makes verifies with its public key and fails for
// another message; a parsed signature is checked against a message (it may fail, never crash).
// Run with Scripts/fuzz minisign [SECONDS].
import ConsentRecords

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    // The loaders read files as UTF-8 text; invalid UTF-8 never reaches the parsers.
    guard let text = String(validating: bytes, as: UTF8.self) else { return -1 }
    let message = Array("consentgate fuzz message".utf8)

    if let key = try? Minisign.PublicKey(parsing: text) {
        guard (try? Minisign.PublicKey(parsing: key.fileText)) == key,
            (try? Minisign.PublicKey(parsing: key.base64)) == key
        else { oracleFailure("a parsed public key does not read back from its own file text") }
    }
    if let signature = try? Minisign.Signature(parsing: text) {
        if let key = try? Minisign.PublicKey(parsing: "RWQ3CIx7ognGVLkva7964m2Kzd/7grf+Em7d4BqSRyy4uNuU7nCLSevA") {
            _ = try? signature.verify(message, with: key)
            _ = try? signature.verify(bytes, with: key)
        }
    }
    if let secret = try? Minisign.SecretKey(parsing: text) {
        guard let again = try? Minisign.SecretKey(parsing: secret.fileText(comment: "fuzz")),
            again.keyID == secret.keyID, again.publicKey == secret.publicKey
        else { oracleFailure("a parsed secret key does not read back from its own file text") }
        let signed: String
        do { signed = try Minisign.sign(message, with: secret, trustedComment: "t", untrustedComment: "u") } catch {
            oracleFailure("a parsed secret key cannot sign: \(error)")
        }
        guard let signature = try? Minisign.Signature(parsing: signed) else {
            oracleFailure("a signature made by a parsed secret key does not parse")
        }
        do { try signature.verify(message, with: secret.publicKey) } catch {
            oracleFailure("a signature made by a parsed secret key does not verify: \(error)")
        }
        if (try? signature.verify(message + [0], with: secret.publicKey)) != nil {
            oracleFailure("a signature verifies for another message")
        }
    }
    return 0
}
