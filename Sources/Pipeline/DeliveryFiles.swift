import ByteKit
import CSystemShims
import ConsentRecords
import Dispatch
import Foundation
import MediaFormats
import Synchronization

/// Delivery's file-level helpers: a published file's identity, hostile entries, reason files.
extension Runner {
    /// A published file's SHA-256 and what stat says of it (size, mtime, ctime, inode): the sweep hashes a
    /// published file again only when its stat has changed.
    static func identity(of path: RawPath) throws(PipelineError) -> (sha256: String, stat: String) {
        guard let stamp = statStamp(path) else { throw PipelineError("cannot stat \(path.display)", exitCode: 3, stage: .deliver) }
        do {
            let source = try FileSource(pathBytes: path.bytes, followLinks: false)
            return (try source.sha256(), stamp)
        } catch { throw PipelineError("cannot read \(path.display): \(error)", exitCode: 3, stage: .deliver) }
    }

    /// Size, mtime, ctime and inode of a regular file with one link (nil for anything else).
    static func statStamp(_ path: RawPath) -> String? {
        var info = stat()
        guard path.withCString({ lstat($0, &info) }) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1 else {
            return nil
        }
        return "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_ctim.tv_sec)."
            + "\(info.st_ctim.tv_nsec):\(info.st_dev):\(info.st_ino)"
    }

    /// A link, FIFO, device or hard link found in the inbox (or the work folder): never read, moved to quarantine
    /// as it is with a reason. The move comes first and the event after it, so an entry that cannot be moved is
    /// recorded as `left` with a reason code (once, not on every run), never as quarantined.
    func deliverHostile(
        _ path: RawPath, place: Place, relative: [UInt8], why: String, asset: String, ledger: any LedgerStore
    ) throws(PipelineError) -> ItemReport {
        do {
            try writeReason(
                folder: config.quarantine, asset: asset, original: Escape.display(relative),
                fingerprints: nil, reasons: [Reason(.notARegularFile, "it is \(why)")], records: [], now: Date())
            try Folders.move(place, to: config.quarantine + "/" + asset + ".unread")
        } catch {
            try? FileManager.default.removeItem(atPath: config.quarantine + "/" + asset + ".reason.json")
            if try ledger.lastEvent(asset: asset, kinds: [.left, .quarantined])?.eventKind != .left {
                try ledger.append(
                    pipeline: config.name, kind: .left, asset: asset, fileSHA256: nil, contentSHA256: nil,
                    detail: ["reasons": [ReasonCode.notARegularFile.rawValue, ReasonCode.cannotMove.rawValue]])
            }
            return ItemReport(
                asset: asset, outcome: .left,
                reasons: ["it is \(why), and it cannot be moved to the quarantine (\(Runner.errnoCode(error)))"],
                records: [])
        }
        if try ledger.lastEvent(asset: asset, kinds: [.quarantined]) == nil {
            try ledger.append(
                pipeline: config.name, kind: .quarantined, asset: asset, fileSHA256: nil, contentSHA256: nil,
                detail: ["reasons": [ReasonCode.notARegularFile.rawValue]])
        }
        return ItemReport(
            asset: asset, outcome: .quarantined, reasons: ["it is \(why)"], records: [],
            codes: [ReasonCode.notARegularFile.rawValue])
    }

    /// The system's words for the last error only (never the paths a message may hold).
    static func errnoCode(_ error: Error) -> String {
        let text = "\(error)"
        if let colon = text.range(of: ": ", options: .backwards) { return String(text[colon.upperBound...]) }
        return "error"
    }

    /// `ASSET.reason.json` beside a quarantined original (or a withdrawn stranger): every reason, and what a person
    /// can do. The only place an original name is kept (escaped: control characters and bytes that are not UTF-8
    /// as `\n`, `\xNN`, so that it names the file exactly); the folder is ConsentGate's own (0700).
    func writeReason(
        folder: String, asset: String, original: String, fingerprints: Fingerprints?,
        reasons: [Reason], records: [String], now: Date, pending: Bool = false
    ) throws(PipelineError) {
        let report: [String: Any] = [
            "pending": pending,
            "pending_until": pending
                ? Ledger.timestamp(now.addingTimeInterval(config.pendingDays * 86_400)) as Any : NSNull(),
            "asset": asset, "pipeline": config.name, "channel": config.channel,
            "original_name": original, "quarantined_at": Ledger.timestamp(now),
            "file_sha256": fingerprints?.fileSHA256 ?? NSNull(),
            "presented_sha256": fingerprints?.presentedSHA256 ?? NSNull(),
            "records_matching": records,
            "reasons": reasons.map {
                ["code": $0.code.rawValue, "message": $0.message, "what_to_do": $0.code.advice]
            },
        ]
        do {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            let pending = try FileIO.writePending(
                Array(data), finalPath: folder + "/" + asset + ".reason.json", mode: 0o600)
            try pending.commit()
        } catch { throw PipelineError("cannot write the reason for \(asset): \(error)", exitCode: 3, stage: .deliver, asset: asset) }
    }
}
