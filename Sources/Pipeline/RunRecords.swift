import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import Synchronization

/// The records a run decides by, and the notices earlier runs could not deliver.
extension Runner {
    /// Loads and verifies the records; remembers in the ledger when each record file was first seen (so a retired
    /// key cannot back-date one) and reports every invalid record, warning and global doubt in the summary.
    func loadRegistry(
        trust: Result<TrustStore, TrustStoreError>, ledger: (any LedgerStore)?, dryRun: Bool, now: Date,
        summary: inout RunSummary
    ) throws(PipelineError) -> Registry {
        let signatures = try SignatureCacheUse(config: config, ledger: ledger)
        let (registry, gone) = try PipelineRecords.loadNoting(
            config: config, trust: trust, ledger: ledger, now: now, signatures: signatures)
        summary.signaturesVerified = signatures?.cache.signatureChecks ?? 0
        if !dryRun { try signatures?.remember() }
        summary.recordsGone = gone
        if let why = registry.unverifiableBecause {
            // Loud: the summary, the exit status (2), the log; the sweep's retractions carry the reason in the ledger.
            summary.configurationProblems.append(
                "NO RECORD CAN BE VERIFIED: \(why). Nothing new is published and what is published is withdrawn "
                    + "until this is repaired")
            summary.publishingStopped.append("no consent record can be verified now (\(why))")
            logger.error("records cannot be verified", metadata: ["stage": "records"])
        }
        if !dryRun, let ledger { try PipelineRecords.remember(registry, config: config, ledger: ledger) }
        // A stray file's name can be anything, a patient's name too: the summary (a cron mail, a log) names only
        // entries named like records; `records verify`, the privacy office's own tool, names them all.
        func shown(_ record: InvalidRecord) -> String {
            let plain = record.displayFile.allSatisfy {
                $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0))
            }
            return plain && record.displayFile.count <= 140
                ? record.displayFile : "an entry not named like a record (consentgate records verify names it)"
        }
        summary.invalidRecords = registry.invalid.map {
            RunSummary.InvalidRecordReport(
                file: shown($0),
                reason: shown($0) == $0.displayFile
                    ? $0.reason
                    : $0.reason.hasPrefix(DocumentDoubt.prefix) ? DocumentDoubt.prefix : "not a valid record",
                blocks: Array(Set($0.blocks.compactMap(registry.authorizationID(matching:)))).sorted())
        }
        summary.warnings += registry.warnings
        if !dryRun {
            for record in registry.invalid {
                // Only ids of authorizations that exist: a stray file's own "id" is free text.
                let blocked = Array(Set(record.blocks.compactMap(registry.authorizationID(matching:)))).sorted()
                // The notice is named after its reason.
                notifier?.send(
                    ReasonCode.invalidRecord.rawValue, asset: nil, records: blocked,
                    reasons: [ReasonCode.invalidRecord.rawValue])
            }
        }
        summary.publishingStopped += registry.globalDoubts.map {
            shown($0) == $0.displayFile
                ? "\($0.displayFile) is not a valid record and names no authorization (\(Escape.display($0.reason)))"
                : "\(shown($0)) is not a valid record and names no authorization"
        }
        return registry
    }

    /// Notices earlier runs could not deliver (`notify_failed` with no `notify_sent` for it), sent again, oldest
    /// first, at most 100 a run.
    func resendFailedNotices(ledger: any LedgerStore, notifier: Notifier) throws(PipelineError) {
        var sent = Set<Int64>()
        for event in try ledger.events(EventQuery(pipeline: config.name, kinds: [.notifySent])) {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            if let seq = (detail["for_seq"] as? NSNumber)?.int64Value { sent.insert(seq) }
        }
        var count = 0
        for event in try ledger.events(EventQuery(pipeline: config.name, kinds: [.notifyFailed]))
        where !sent.contains(event.seq) && count < 100 {
            let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
            guard let document = detail["document"] as? [String: Any] else { continue }
            notifier.resend(document, retryOf: event.seq)
            count += 1
        }
    }
}

/// The run's ledger, once it is open, for work that starts before it (the notifier).
final class LedgerSlot: Sendable {
    let ledger = Mutex<(any LedgerStore)?>(nil)
}
