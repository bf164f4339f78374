import ConsentRecords

/// What each reason code means to a person, and what that person can do about it.
extension ReasonCode {
    /// The reason in one sentence a privacy officer reads (the review page, the audit report).
    public var plainWords: String {
        switch self {
        case .noRecord: return "No signed authorization lists this picture."
        case .oldFingerprint: return "The authorization names this picture by an old fingerprint: it must be recorded again."
        case .notYetEffective: return "The authorization that lists it has not taken effect yet."
        case .expired: return "The authorization that listed it has expired."
        case .revoked: return "The patient revoked consent."
        case .channelNotPermitted: return "The authorization does not allow this channel."
        case .purposeNotPermitted: return "The authorization does not allow marketing use."
        case .notEveryoneConsented: return "Not everyone in the picture has consented."
        case .invalidRecord: return "A consent record for it is invalid (unsigned, altered or unreadable)."
        case .superseded: return "A newer authorization replaces the one that listed it."
        case .recordsUnverifiable:
            return "No consent record could be verified (the trust file or the authorizations folder was unusable)."
        case .takenDown: return "An incident takedown covers it: it is withdrawn everywhere and not published again."
        case .notMedia: return "It is not a picture or video."
        case .notARegularFile: return "It is a link or special file, which is never opened."
        case .changed: return "It changed while it was being processed (a copy still being written)."
        case .ioError: return "A disk error kept it from being delivered three runs in a row."
        case .cannotSanitize: return "Its identifying metadata cannot be removed safely."
        case .unreadable: return "It cannot be read."
        case .empty: return "The file is empty."
        case .readerFailed: return "It could not be read safely: the reader failed on it twice (crash, time or memory)."
        case .changedInPublish: return "The published file was changed after it was published."
        case .missingFromPublish: return "Someone removed the published file from the publish folder."
        case .notAPublication: return "A file in the publish folder that ConsentGate never published."
        case .cannotMove: return "It could not be moved."
        case .duplicate, .alreadyPublished: return "The same picture is already published."
        case .unknown: return "Not approved (no reason was recorded)."
        }
    }

    /// What a person can do about it (the `what_to_do` of a reason file).
    public var advice: String {
        switch self {
        case .noRecord:
            return
                "Record the patient's signed authorization for this picture (consentgate authorize); the next run publishes it (it stays pending for pending_days)."
        case .expired:
            return "The authorization has expired: record a new signed authorization for this picture; the next run "
                + "publishes it (it stays pending for pending_days)."
        case .revoked: return "The patient revoked consent: do not publish. Delete the picture when retention allows."
        case .channelNotPermitted:
            return
                "The authorization does not cover this channel: use a permitted channel or obtain a new authorization."
        case .purposeNotPermitted: return "The authorization does not cover marketing."
        case .notYetEffective:
            return "Nothing to do: the picture stays pending and is published on the first run after the authorization takes effect."
        case .notEveryoneConsented:
            return "Every person in the picture needs an authorization for it; once all are recorded, the next run publishes it."
        case .invalidRecord:
            return
                "A record is invalid (see the reason): have the privacy office check it with consentgate records verify."
        case .superseded: return "A newer authorization replaces this one: check what it covers."
        case .recordsUnverifiable:
            return "The administrator must repair the trust file or the authorizations folder (the run's summary says "
                + "what is wrong); then drop the original again from the archive to publish it anew."
        case .oldFingerprint:
            return
                "The authorization names this picture by the old fingerprint: record it again (consentgate authorize, which writes presented_sha256); the next run publishes it."
        case .takenDown:
            return "Remove every post that used it (the notify event names it). It stays down until the privacy "
                + "office records a signed lift (consentgate incident lift); then drop the original again."
        case .notMedia:
            return "This is not a picture or video: do not drop it here. Nothing about it can be published."
        case .changed:
            return "The file was still being written: drop it again once the copy is complete."
        case .ioError:
            return "The file could not be delivered on three runs in a row: check the disks, then drop it again."
        case .cannotSanitize, .unreadable, .empty:
            return "The file cannot be cleaned safely: export it again (JPEG, PNG, HEIC or MP4) and drop the new file."
        case .notARegularFile:
            return "Links and special files are never read: copy the picture itself into the drop folder."
        case .readerFailed:
            return "The file made the reader fail (it may be damaged or crafted): do not open it; export the picture "
                + "again from its source and drop the new file."
        default: return "Ask the privacy office."
        }
    }

    /// The code of a consent refusal.
    init(_ refusal: RefusalReason) { self = refusal.reasonCode }

    /// Whether a code read back from a reason file or the ledger is curable (unknown codes are not).
    public static func isCurable(_ code: String) -> Bool { ReasonCode(rawValue: code)?.isCurable ?? false }
}

/// One reason with the message that says what exactly was found (an authorization id, a byte count...).
public struct Reason: Sendable, Equatable {
    public var code: ReasonCode
    public var message: String

    public init(_ code: ReasonCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public init(_ refusal: RefusalReason) {
        self.init(ReasonCode(refusal), refusal.description)
    }
}
