/// The one place every reason code is spelled (ConsentRecords' refusals and the pipeline's reasons share it).
/// Why a file was not published, or why a publication was withdrawn: the stable code written to reason files,
/// the ledger and the JSON summary, with its words for a person and what that person can do about it.
public enum ReasonCode: String, Sendable, CaseIterable, Codable {
    // Consent (ConsentRecords' `RefusalReason.code`).
    case noRecord = "no_record"
    case oldFingerprint = "old_fingerprint"
    case invalidRecord = "invalid_record"
    case notYetEffective = "not_yet_effective"
    case expired
    case revoked
    case channelNotPermitted = "channel_not_permitted"
    case purposeNotPermitted = "purpose_not_permitted"
    case superseded
    case notEveryoneConsented = "not_everyone_consented"
    /// The trust file is unusable or the authorizations folder cannot be listed: nothing can be verified now.
    case recordsUnverifiable = "records_unverifiable"
    /// A signed takedown in force selects it (incident response).
    case takenDown = "taken_down"
    // The file itself.
    case notMedia = "not_media"
    case notARegularFile = "not_a_regular_file"
    case changed
    case ioError = "io_error"
    case cannotSanitize = "cannot_sanitize"
    case unreadable
    case empty
    /// The sandboxed reader failed on it twice (a crash, a forbidden system call, a deadline or a limit).
    case readerFailed = "reader_failed"
    // The publish folder (the sweep).
    case changedInPublish = "changed_in_publish"
    case missingFromPublish = "missing_from_publish"
    case notAPublication = "not_a_publication"
    // Codes the ledger may carry from delivery.
    case cannotMove = "cannot_move"
    case duplicate
    case alreadyPublished = "already_published"
    case unknown

    /// Reasons a new or changed record can cure (SPEC §2.8; an expired authorization too: a new one that lists the
    /// picture releases it). Anything else (revoked, an invalid record, a
    /// malformed, hostile or changing file, a crashed reader) needs a person to drop the file again.
    public var isCurable: Bool {
        switch self {
        case .noRecord, .notYetEffective, .notEveryoneConsented, .channelNotPermitted, .purposeNotPermitted,
            .oldFingerprint, .expired:
            return true
        default: return false
        }
    }
}
