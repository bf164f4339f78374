import ConsentRecords
import Foundation

/// What happened to one file (or would, in a dry run). Names no person: the asset id and hashes only.
public struct ItemReport: Sendable, Encodable {
    public var asset: String
    public var outcome: Outcome
    public var reasons: [String]
    public var records: [String]
    public var publishedName: String?
    /// The reasons' stable codes (SPEC: reason files, the ledger), for logs that must name no file or person.
    public var codes: [String] = []
}

/// The summary of one pass over a pipeline.
public struct RunSummary: Sendable, Encodable {
    public var pipeline: String
    public var dryRun: Bool
    public var published = 0
    /// Pending quarantines published once their consent arrived (counted in `published` too).
    public var released = 0
    /// Second copies of a picture already live in publish: archived, not published again.
    public var duplicates = 0
    public var quarantined = 0
    public var retracted = 0
    public var left = 0
    /// Of `left`: files not taken because nothing new is published this run (`publishingStopped`).
    public var held = 0
    public var unsettled = 0
    /// Events the `notify` command failed to take (logged and counted; never changes an outcome).
    public var notifyFailures = 0
    /// Record signatures this run verified; the others were verified by an earlier run (the ledger remembers
    /// which bytes, signature and key: issue 28).
    public var signaturesVerified = 0
    /// Live publications whose consent the sweeps decided again this run, and those whose decision the sweep's
    /// memory held (the same records, before their next date: `SweepMemo`), issue 28.
    public var publicationsRedecided = 0
    public var publicationsKept = 0
    /// The same for pending quarantines (whether today's records release them).
    public var quarantinesRedecided = 0
    public var quarantinesKept = 0
    /// Record files read and checked this run: none in an idle run whose records are as the memories kept them
    /// (`RunRegistry`).
    public var recordFilesRead = 0
    /// Reports for the first `maxItems` files; the counts above cover every file.
    public var items: [ItemReport] = []
    public var itemsOmitted = 0
    public static let maxItems = 1000
    /// Every file of the authorizations folder that is not a valid record (SPEC §5: doubt blocks).
    public var invalidRecords: [InvalidRecordReport] = []
    /// Record warnings (a revocation of an authorization nobody has, fields an auditor expects...).
    public var warnings: [String] = []
    /// Why nothing new was published this run (an invalid record that names no authorization), if so.
    public var publishingStopped: [String] = []
    /// Problems with the ledger's hash chain (an edited or deleted event).
    public var ledgerProblems: [String] = []
    /// Revocations the ledger remembers whose files are gone from the authorizations folder (still in force).
    public var recordsGone: [String] = []
    /// Configuration problems the run survived (the trust file unusable, the authorizations folder missing): the
    /// sweep ran and withdrew what could not be verified; exit status 2 (3 when a file was also left).
    public var configurationProblems: [String] = []
    /// How the people in a picture were counted this run (`people_check`), said in every summary.
    public var peopleCheck: String? = nil
    /// Why media was read without the seccomp sandbox this run, if it was (said once, never silent).
    public var unsandboxed: String? = nil
    /// How each of ConsentGate's folders moves files without replacing anything, as probed at the start of the run
    /// (issue 31, docs/shares.md); empty in a dry run.
    public var folders: [FolderReport] = []

    public struct FolderReport: Sendable, Encodable {
        /// work, publish, quarantine, archive or retracted (claims move from the inbox as the work folder says).
        public var folder: String
        /// rename-noreplace, or checked-rename where the filesystem rejects RENAME_NOREPLACE.
        public var moves: String
        public var inodeStable: Bool
        public var mtimeGranularitySeconds: Double
        /// Why fsync of the folder failed, if it did.
        public var folderSyncRefused: String?
    }

    public struct InvalidRecordReport: Sendable, Encodable {
        public var file: String
        public var reason: String
        /// The authorizations it blocks; empty when it names none (then nothing new is published).
        public var blocks: [String]
    }

    /// Counts an outcome and keeps its report while there is room.
    public mutating func add(_ item: ItemReport) {
        switch item.outcome {
        case .published: published += 1
        case .released:
            published += 1
            released += 1
        case .duplicate: duplicates += 1
        case .quarantined: quarantined += 1
        case .retracted: retracted += 1
        case .left: left += 1
        }
        if items.count < RunSummary.maxItems { items.append(item) } else { itemsOmitted += 1 }
    }

    mutating func merge(_ other: RunSummary) {
        published += other.published
        released += other.released
        duplicates += other.duplicates
        notifyFailures += other.notifyFailures
        quarantined += other.quarantined
        retracted += other.retracted
        left += other.left
        for item in other.items {
            if items.count < RunSummary.maxItems { items.append(item) } else { itemsOmitted += 1 }
        }
        itemsOmitted += other.itemsOmitted
    }

    /// SPEC §6: 0 all published or nothing to do; 1 something quarantined or retracted, or a doubt a person must
    /// look at (an invalid record, a broken ledger chain); 3 a file could not be brought to an outcome.
    public var exitCode: Int32 {
        if left > held { return 3 }
        if !configurationProblems.isEmpty { return 2 }
        if left > 0 { return 3 }
        let doubts =
            !invalidRecords.isEmpty || !publishingStopped.isEmpty || !ledgerProblems.isEmpty || notifyFailures > 0
            || !recordsGone.isEmpty || unsandboxed != nil
        return quarantined > 0 || retracted > 0 || doubts ? 1 : 0
    }
}
