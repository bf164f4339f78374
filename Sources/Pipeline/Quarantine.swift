import ConsentRecords
import ByteKit
import Foundation
import MediaFormats

/// The privacy office's view of a pipeline's quarantine: every quarantined original with its reasons, where
/// and when it was dropped, and whether it is *pending* (SPEC §2.8: every reason is one a new record can cure,
/// so each run decides it again for `pending_days`).
public struct QuarantineEntry: Sendable, Encodable {
    public var asset: String
    /// The original's file name in the quarantine folder (`ASSET.EXT`).
    public var file: String
    /// The name it was dropped under, with its inbox subfolders (the privacy office's own view: the only place
    /// ConsentGate keeps it is `ASSET.reason.json` in the 0700 quarantine folder).
    public var originalName: String
    /// The inbox subfolder it was dropped into ("" for the inbox itself).
    public var subfolder: String
    public var quarantinedAt: String
    public var ageDays: Int
    public var reasons: [Reason]
    /// The fingerprint a record names (`authorize --presented-sha256`).
    public var presentedSHA256: String?
    public var fileSHA256: String?
    /// Decided again on every run until `pendingUntil`.
    public var pending: Bool
    public var pendingUntil: String?
    /// Why it is not pending, in words (nil when it is).
    public var notPendingBecause: String?
    /// The faces found and the count its decision used (PeopleVisible.swift), when the ledger kept them.
    public var people: PeopleSeen? = nil

    public struct Reason: Sendable, Encodable {
        public var code: String
        public var message: String
        public var whatToDo: String
    }
}

public enum QuarantineState {
    /// Reasons a new or changed record can cure. Anything else (revoked, an invalid record, a malformed, hostile
    /// or changing file, a crashed reader) needs a person to drop the file again.
    public static let curable: Set<String> = Set(ReasonCode.allCases.filter(\.isCurable).map(\.rawValue))

    /// The ledger kinds that decide an asset's state, newest last.
    static let kinds: [EventKind] = [.quarantined, .releaseStarted, .released, .published, .duplicate]

    /// Assets of this pipeline whose latest decision is a pending quarantine (or a release a kill interrupted),
    /// quarantined since `pendingDays` at most, with the fingerprints recorded at the time.
    static func pending(ledger: any LedgerStore, pipeline: String, pendingDays: Double, now: Date) throws(PipelineError)
        -> [(asset: String, contentSHA256: String?, fileSHA256: String?, quarantinedAt: Date)]
    {
        var result: [(String, String?, String?, Date)] = []
        for row in try ledger.pendingQuarantines(pipeline: pipeline) {
            guard let text = row.quarantinedAt, let at = Ledger.parseTimestamp(text),
                now.timeIntervalSince(at) <= pendingDays * 86_400
            else { continue }
            result.append((row.asset, row.contentSHA256, row.fileSHA256, at))
        }
        return result
    }

    /// Whether a quarantine event was recorded as curable by a new record.
    static func isPending(_ event: LedgerEvent) -> Bool {
        let detail = (try? JSONSerialization.jsonObject(with: Data(event.detail.utf8))) as? [String: Any] ?? [:]
        return detail["pending"] as? Bool == true
    }

    /// Every quarantined original in the folder, with its reason file and its state in the ledger.
    public static func list(config: PipelineConfig, now: Date = Date()) throws(PipelineError) -> [QuarantineEntry] {
        let ledger = try LedgerStores.openIfPresent(config)
        defer { ledger?.disconnect() }
        var pendingAssets = Set<String>()
        if let ledger {
            for entry in try pending(ledger: ledger, pipeline: config.name, pendingDays: config.pendingDays, now: now) {
                pendingAssets.insert(entry.asset)
            }
        }
        let listing = try Folders.assetListing(of: config.quarantine, shownAs: "quarantine")
        var entries: [QuarantineEntry] = []
        for asset in listing.reasonFiles {
            let path = config.quarantine + "/" + asset + ".reason.json"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PipelineError("cannot read \(path): \(String(cString: strerror(errno)))", exitCode: 2)
            }
            guard let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { continue }
            let original = listing.originals[asset] ?? "(missing)"
            let reasons = (report["reasons"] as? [[String: Any]] ?? []).map {
                QuarantineEntry.Reason(
                    code: $0["code"] as? String ?? ReasonCode.unknown.rawValue, message: $0["message"] as? String ?? "",
                    whatToDo: $0["what_to_do"] as? String ?? "")
            }
            let originalName = report["original_name"] as? String ?? ""
            let at = report["quarantined_at"] as? String ?? ""
            let when = Ledger.parseTimestamp(at)
            let isPending = pendingAssets.contains(asset)
            let cured = !reasons.isEmpty && reasons.allSatisfy { ReasonCode.isCurable($0.code) }
            var because: String? = nil
            if !isPending {
                if !cured {
                    let codes = reasons.map(\.code).filter { !QuarantineState.curable.contains($0) }
                    because =
                        "a new record cannot cure it (\(codes.joined(separator: ", "))): drop the file again once the "
                        + "cause is fixed"
                } else {
                    because = "it was quarantined more than pending_days (\(Int(config.pendingDays))) ago: drop it again"
                }
            }
            entries.append(
                QuarantineEntry(
                    asset: asset, file: original, originalName: originalName,
                    subfolder: (originalName as NSString).deletingLastPathComponent, quarantinedAt: at,
                    ageDays: when.map { Int(now.timeIntervalSince($0) / 86_400) } ?? 0, reasons: reasons,
                    presentedSHA256: report["presented_sha256"] as? String ?? report["content_sha256"] as? String, fileSHA256: report["file_sha256"] as? String,
                    pending: isPending,
                    pendingUntil: isPending
                        ? when.map { Ledger.timestamp($0.addingTimeInterval(config.pendingDays * 86_400)) } : nil,
                    notPendingBecause: because))
            if let ledger { entries[entries.count - 1].people = PeopleSeen.last(ledger: ledger, asset: asset) }
        }
        return entries.sorted { ($0.quarantinedAt, $0.asset) < ($1.quarantinedAt, $1.asset) }
    }
}
