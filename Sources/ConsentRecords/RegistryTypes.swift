import Crypto
import Dispatch
import Foundation
import Synchronization

/// A record file that was refused, or anything else in the authorizations folder that is not a valid record
/// (SPEC §5 "doubt blocks"). Its content is never trusted to permit anything; what a lenient reading finds in it
/// is used only to block: the fingerprints it names (so a check can say "this picture's record is invalid:
/// WHY") and the authorizations it names (`blocks`, refused as if revoked now).
public struct InvalidRecord: Error, Sendable, Equatable {
    /// Its path in the authorizations folder ("old/x.json" in a subfolder); bytes of a name that are not UTF-8
    /// become U+FFFD here (`fileBytes` keeps them). Print `displayFile`, or `file` through `Escape.display`.
    public var file: String
    /// The exact bytes of its path in the authorizations folder.
    public var fileBytes: [UInt8]
    /// `fileBytes` escaped for printing on one line (`Escape.display`): "REV-\xFF.json", "a\nb.json".
    public var displayFile: String { Escape.display(fileBytes) }
    public var id: String?
    public var reason: String
    /// The content fingerprints it names (`presented_sha256`, and old `content_sha256`).
    public var contentSHA256s: [String] = []
    public var fileSHA256s: [String] = []
    /// The authorization ids it blocks (sorted): ids of verified authorizations found in its name or bytes as a
    /// whole token, and the `id` / `authorization` / `supersedes` values a lenient reading finds.
    public var blocks: [String] = []
    /// True when it cannot be told which authorization it concerns (nothing found, or it cannot be read: a
    /// link, a FIFO, a file over the size cap...): nothing new may be published while it is there.
    public var global: Bool = false

    public init(
        file: String, fileBytes: [UInt8]? = nil, id: String? = nil, reason: String, contentSHA256s: [String] = [],
        fileSHA256s: [String] = [], blocks: [String] = [], global: Bool = false
    ) {
        self.file = file
        self.fileBytes = fileBytes ?? Array(file.utf8)
        self.id = id
        self.reason = reason
        self.contentSHA256s = contentSHA256s
        self.fileSHA256s = fileSHA256s
        self.blocks = blocks
        self.global = global
    }
}

/// A record file read while loading, by its bytes' SHA-256: the pipeline stores new ones in its ledger so that
/// the next load can say when ConsentGate first saw it (`Registry.load(firstSeen:)`).
public struct RecordSighting: Sendable, Equatable, Hashable {
    public var file: String
    public var sha256: String

    public init(file: String, sha256: String) {
        self.file = file
        self.sha256 = sha256
    }
}

/// A record whose signature, signer and schema all check out.
public struct VerifiedRecord: Sendable {
    public var record: Record
    public var file: String
    public var keyID: String
    /// When it says it was signed (trusted comment `signed_at=`, else the record's `recorded_at`).
    public var signedAt: Date?
    /// Fields an auditor expects that the record leaves out.
    public var warnings: [String]
}
