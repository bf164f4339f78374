/// What happened to one file in a run (or would, in a dry run): the `outcome` of an item report.
public enum Outcome: String, Sendable, Codable {
    case published
    /// A pending quarantine published once its consent arrived.
    case released
    /// A second copy of a picture already live in publish: archived, not published again.
    case duplicate
    case quarantined
    case retracted
    /// Not brought to an outcome this run (an I/O error, a held inbox...): still in the inbox or the work folder.
    case left
}

/// The kinds of the ledger's events (SPEC §1). A stored event keeps its kind as text, since an edited ledger can
/// hold anything; `LedgerEvent.eventKind` reads it back.
public enum EventKind: String, Sendable, CaseIterable, Codable {
    case recordSeen = "record_seen"
    case claimed
    case published
    case quarantined
    case releaseStarted = "release_started"
    case released
    case duplicate
    case retracted
    case left
    case notifyFailed = "notify_failed"
    case notifySent = "notify_sent"
    /// An original removed by `quarantine purge` or `archive purge` (retention).
    case purged
}

/// The stages of SPEC §2, named in errors and log metadata.
public enum Stage: String, Sendable, Equatable {
    case configuration, lock, records, ledger, recovery, discover, claim, inspect, decide, sanitize, deliver, sweep
    case notify
}

extension EventKind {
    /// The event's name in the audit report.
    public var title: String {
        switch self {
        case .claimed: return "Taken in"
        case .published: return "Published"
        case .released: return "Published after consent arrived"
        case .duplicate: return "Not published again"
        case .quarantined: return "Quarantined"
        case .releaseStarted: return "Release begun"
        case .retracted: return "Retracted"
        case .left: return "Left in place"
        case .recordSeen: return "Record seen"
        case .notifyFailed: return "Notice not delivered"
        case .notifySent: return "Notice delivered"
        case .purged: return "Original removed (retention)"
        }
    }

    /// What the event means, for the audit report's legend.
    public var legend: String {
        switch self {
        case .claimed:
            return "A file was taken from the inbox to be checked (moved into ConsentGate's work folder)."
        case .published:
            return "A signed authorization covered the picture: its metadata was removed and the clean copy was put "
                + "in the publish folder; the original went to the archive."
        case .released:
            return "A quarantined picture waiting for consent became covered by a new authorization and was published "
                + "like a new file; its quarantine entry was removed."
        case .duplicate:
            return "The same picture (same pixels) is already live in the publish folder, so it was not published a "
                + "second time; the original went to the archive."
        case .quarantined:
            return "The picture may not be published (the reasons say why): the original was kept, untouched, in the "
                + "quarantine folder, which only ConsentGate's account can read."
        case .releaseStarted:
            return "A quarantined picture is being published now that its consent arrived (the next event says how "
                + "it ended)."
        case .retracted:
            return "A published picture was taken out of the publish folder, because consent was revoked or expired, "
                + "or the published file was changed or removed. Posts that used it must come down too."
        case .left:
            return "A file could not be moved at all (for example no permission); it stays where it was and every run "
                + "reports it."
        case .recordSeen:
            return "A consent record file was seen for the first time (so a record signed with a retired key cannot "
                + "be back-dated)."
        case .notifyFailed: return "The notify command could not take a notice; later runs send it again."
        case .notifySent: return "A notice that had failed was delivered on a later run."
        case .purged:
            return "An original kept in the quarantine or the archive was removed after the retention period "
                + "(never one still pending or whose publication is live)."
        }
    }
}
