internal import CSodium
import Crypto
import Foundation

/// Why a key or signature was refused.
public struct SignatureError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// minisign's file formats (0.11): public keys, unencrypted secret keys and signatures, so that
/// `minisign -V` verifies what ConsentGate signs and ConsentGate verifies what `minisign -S` signs.
public enum Minisign {
    static let sodiumReady: Bool = sodium_init() >= 0

    /// BLAKE2b-512, as minisign's prehashed ("ED") signatures use it.
    static func blake2b512(_ message: [UInt8]) -> [UInt8] {
        precondition(sodiumReady, "libsodium failed to initialise")
        var out = [UInt8](repeating: 0, count: 64)
        message.withUnsafeBufferPointer { input in
            _ = crypto_generichash(&out, 64, input.baseAddress, UInt64(input.count), nil, 0)
        }
        return out
    }

    /// The second line of a minisign file (or the line itself when given one line), base64-decoded.
    static func payload(_ text: String, line index: Int) throws(SignatureError) -> [UInt8] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        let line: Substring
        if lines.count == 1 || (lines.count == 2 && lines[1].isEmpty) {
            line = lines[0]
        } else {
            guard lines.count > index else { throw SignatureError("expected at least \(index + 1) lines") }
            line = lines[index]
        }
        guard let data = canonicalBase64(String(line)) else {
            throw SignatureError("line \(index + 1) is not canonical base64")
        }
        return Array(data)
    }

    /// Base64 that decodes and re-encodes to the same text: otherwise unused trailing bits could be
    /// changed without changing the bytes, and a changed file would still verify.
    static func canonicalBase64(_ text: String) -> Data? {
        guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
        return data
    }

    /// minisign shows a key id as the little-endian 64-bit number in upper-case hex.
    public static func keyIDHex(_ keyID: [UInt8]) -> String {
        keyID.reversed().map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    public struct PublicKey: Sendable, Equatable {
        public var keyID: [UInt8]
        public var key: [UInt8]

        public var keyIDHex: String { Minisign.keyIDHex(keyID) }
        /// The base64 line of a `.pub` file.
        public var base64: String { Data(Array("Ed".utf8) + keyID + key).base64EncodedString() }
        public var fileText: String { "untrusted comment: minisign public key \(keyIDHex)\n\(base64)\n" }

        /// From a `.pub` file's text, or its base64 line alone.
        public init(parsing text: String) throws(SignatureError) {
            let bytes = try Minisign.payload(text, line: 1)
            guard bytes.count == 42, bytes[0] == UInt8(ascii: "E"), bytes[1] == UInt8(ascii: "d") else {
                throw SignatureError("not a minisign Ed25519 public key")
            }
            keyID = Array(bytes[2..<10])
            key = Array(bytes[10..<42])
        }

        init(keyID: [UInt8], key: [UInt8]) {
            self.keyID = keyID
            self.key = key
        }

        func isValid(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: key) else { return false }
            return key.isValidSignature(signature, for: message)
        }
    }

    public struct SecretKey: Sendable {
        public var keyID: [UInt8]
        var seed: [UInt8]
        public var publicKey: PublicKey

        /// A new random Ed25519 key pair with a random key id.
        public static func generate() -> SecretKey {
            let key = Curve25519.Signing.PrivateKey()
            var keyID = [UInt8](repeating: 0, count: 8)
            var generator = SystemRandomNumberGenerator()
            for index in keyID.indices { keyID[index] = UInt8.random(in: 0...255, using: &generator) }
            return SecretKey(
                keyID: keyID, seed: Array(key.rawRepresentation),
                publicKey: PublicKey(keyID: keyID, key: Array(key.publicKey.rawRepresentation)))
        }

        init(keyID: [UInt8], seed: [UInt8], publicKey: PublicKey) {
            self.keyID = keyID
            self.seed = seed
            self.publicKey = publicKey
        }

        /// From an unencrypted minisign secret key file (`minisign -G -W`, or `consentgate keys generate`).
        public init(parsing text: String) throws(SignatureError) {
            let bytes = try Minisign.payload(text, line: 1)
            guard bytes.count == 158, bytes[0..<2].elementsEqual(Array("Ed".utf8)) else {
                throw SignatureError("not a minisign Ed25519 secret key")
            }
            guard bytes[2] == 0, bytes[3] == 0 else {
                throw SignatureError(
                    "the secret key is password-encrypted; ConsentGate reads unencrypted keys (minisign -G -W, or consentgate keys generate)"
                )
            }
            let keyID = Array(bytes[54..<62])
            let seed = Array(bytes[62..<94])
            let publicBytes = Array(bytes[94..<126])
            guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed),
                Array(key.publicKey.rawRepresentation) == publicBytes
            else { throw SignatureError("the secret key's halves do not belong together") }
            self.init(keyID: keyID, seed: seed, publicKey: PublicKey(keyID: keyID, key: publicBytes))
        }

        /// The file text, in minisign's unencrypted secret-key layout (kdf none, zero checksum, as minisign writes it).
        public func fileText(comment: String) -> String {
            var bytes = Array("Ed".utf8) + [0, 0] + Array("B2".utf8)
            bytes += [UInt8](repeating: 0, count: 32 + 8 + 8)
            bytes += keyID + seed + publicKey.key
            bytes += [UInt8](repeating: 0, count: 32)
            return "untrusted comment: \(comment)\n\(Data(bytes).base64EncodedString())\n"
        }

        func sign(_ message: [UInt8]) throws(SignatureError) -> [UInt8] {
            do {
                let key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
                return Array(try key.signature(for: message))
            } catch { throw SignatureError("signing failed: \(error)") }
        }
    }

    /// A parsed `.minisig` file.
    public struct Signature: Sendable, Equatable {
        public var prehashed: Bool
        public var keyID: [UInt8]
        public var signature: [UInt8]
        public var trustedComment: String
        public var globalSignature: [UInt8]

        public var keyIDHex: String { Minisign.keyIDHex(keyID) }

        public init(parsing text: String) throws(SignatureError) {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
                String($0.hasSuffix("\r") ? $0.dropLast() : $0)
            }
            guard lines.count >= 4, lines[0].hasPrefix("untrusted comment: "), lines[2].hasPrefix("trusted comment: ")
            else { throw SignatureError("not a minisign signature file") }
            guard lines.dropFirst(4).allSatisfy(\.isEmpty) else {
                throw SignatureError("extra lines after the signature")
            }
            guard let main = Minisign.canonicalBase64(lines[1]), main.count == 74 else {
                throw SignatureError("the signature line is not a 74-byte base64 block")
            }
            let algorithm = String(decoding: main.prefix(2), as: UTF8.self)
            guard algorithm == "Ed" || algorithm == "ED" else {
                throw SignatureError("unknown signature algorithm \(algorithm)")
            }
            guard let global = Minisign.canonicalBase64(lines[3]), global.count == 64 else {
                throw SignatureError("the global signature line is not a 64-byte base64 block")
            }
            let bytes = Array(main)
            prehashed = algorithm == "ED"
            keyID = Array(bytes[2..<10])
            signature = Array(bytes[10..<74])
            trustedComment = String(lines[2].dropFirst("trusted comment: ".count))
            globalSignature = Array(global)
        }

        /// Checks both signatures with `key`: over the message (or its BLAKE2b-512) and over the trusted comment.
        public func verify(_ message: [UInt8], with key: PublicKey) throws(SignatureError) {
            guard keyID == key.keyID else {
                throw SignatureError("signed by key \(keyIDHex), not by \(key.keyIDHex)")
            }
            let signed = prehashed ? Minisign.blake2b512(message) : message
            guard key.isValid(signature, for: signed) else {
                throw SignatureError("the signature does not match the file")
            }
            guard key.isValid(globalSignature, for: signature + Array(trustedComment.utf8)) else {
                throw SignatureError("the trusted comment's signature does not match")
            }
        }
    }

    /// Signs `message` the way `minisign -S` (0.11, prehashed) does, returning the `.minisig` text.
    public static func sign(_ message: [UInt8], with key: SecretKey, trustedComment: String, untrustedComment: String)
        throws(SignatureError) -> String
    {
        guard !trustedComment.contains("\n"), !untrustedComment.contains("\n") else {
            throw SignatureError("comments must be one line")
        }
        let signature = try key.sign(blake2b512(message))
        let global = try key.sign(signature + Array(trustedComment.utf8))
        let main = Data(Array("ED".utf8) + key.keyID + signature).base64EncodedString()
        return
            "untrusted comment: \(untrustedComment)\n\(main)\ntrusted comment: \(trustedComment)\n\(Data(global).base64EncodedString())\n"
    }
}
