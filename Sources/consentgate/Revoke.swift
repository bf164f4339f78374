import ArgumentParser
import ByteKit
import ConsentRecords
import Foundation
import MediaFormats

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a patient's written revocation of an authorization, signed with the office's key.",
        discussion: """
            consentgate revoke --key office.key --authorization AUTH-2026-0001 --out authorizations/

            The revocation applies from --received-at (default: now), on every channel unless --channels names \
            some. The next pipeline run retracts what it covered. Exit status: 0 written; 2 error.
            """)

    @Option(help: "The signing key (NAME.key, mode 0600; its trust entry needs the role revoke).") var key: String
    @Option(help: "Id of the authorization to revoke (a record in --out, any letter case).") var authorization: String
    @Flag(help: "Write the revocation even when no record file in --out has that id (its file was removed).")
    var allowUnknownId = false
    @Option(help: "When the revocation was received (RFC 3339, e.g. 2026-05-01T09:30:00Z; default now).")
    var receivedAt: String?
    @Option(help: "Revoke only these channels (comma-separated, as in the authorization; default all).")
    var channels: String?
    @Option(help: "The revocation's own id (default AUTHORIZATION-revoked-TIMESTAMP).") var id: String?
    @Option(help: "The written revocation (scan, letter, e-mail): its SHA-256 is recorded.") var evidence: String?
    @Option(help: "The evidence folder: the letter (--evidence) is stored there as SHA256.EXT.") var evidenceFolder: String?
    @Option(help: "Who records it (a staff id, not a name).") var recordedBy: String?
    @Option(help: "Folder to write the record into.") var out: String

    func run() throws {
        do {
            let signingKey = try KeyFiles.loadSecretKey(path: key)
            let authorization = try RecordIDs.resolve(
                self.authorization, option: "--authorization", folder: out, allowUnknown: allowUnknownId,
                command: "revoke")
            var received = Date()
            if let receivedAt {
                guard let date = Timestamp.parse(receivedAt) else {
                    throw RecordError(reason: "--received-at must be RFC 3339")
                }
                received = date
            }
            let stamp = Timestamp.format(received).filter { $0.isNumber || $0 == "T" || $0 == "Z" }
            var evidenceHash: String? = nil
            if let evidence {
                guard let bytes = try? FileIO.readFile(atPath: evidence, limit: 1 << 30) else {
                    throw RecordError(reason: "cannot read \(evidence)")
                }
                evidenceHash = sha256Hex(bytes)
                if let evidenceFolder { try EvidenceFolder.store(bytes, from: evidence, in: evidenceFolder) }
            } else if evidenceFolder != nil {
                throw RecordError(reason: "--evidence-folder stores the letter: give it with --evidence FILE")
            }
            var scope: [String]? = nil
            if let channels {
                let list = channels.split(separator: ",", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                for channel in list where !RecordParser.isValidChannel(channel) {
                    throw RecordError(
                        reason:
                            "--channels: \"\(channel)\" is not a valid channel name (a-z, 0-9, - and _, comma-separated)"
                    )
                }
                guard Set(list).count == list.count else { throw RecordError(reason: "--channels repeats a channel") }
                scope = list
            }
            let revocation = Revocation(
                id: id ?? "\(authorization)-revoked-\(stamp)", authorization: authorization, receivedAt: received,
                channels: scope, evidenceSHA256: evidenceHash, recordedBy: recordedBy)
            let json = RecordWriter.json(revocation)
            _ = try RecordParser.parse(json)
            let now = Date()
            let path = try RecordWriter.write(json, record: .revocation(revocation), to: out, key: signingKey, now: now)
            print("written \(Escape.display(path)) and its .minisig (key \(signingKey.publicKey.keyIDHex))")
            if let problem = Plausibility.problem(
                .revocation(revocation), signedAt: now, now: now, timeZone: TimeZone.current)
            {
                Output.error(
                    "revoke: warning: \(Escape.display(problem)): until that time comes, `records verify` lists it as invalid and it blocks \(Escape.display(authorization)) now"
                )
            }
        } catch let error as RecordError {
            Output.error("revoke: \(Escape.display(error.description))")
            throw ExitCode(2)
        }
    }
}
