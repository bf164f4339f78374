import ConsentRecords
import Foundation
import MediaFormats

/// The CPU stages for one claimed file: inspect (fingerprints, limits), verify consent, sanitize.
/// They know nothing of queues; the runner puts them on Dispatch queues.
public struct Stages: Sendable {
    let config: PipelineConfig
    let registry: Registry
    let now: Date

    /// With `dryRun`, the sanitizer only checks; otherwise it writes a verified temporary file into the publish
    /// folder, which delivery commits (rename) or discards.
    var dryRun = false

    /// Called after the fingerprints are taken (tests use it to change a file while it is in hand).
    var afterFingerprints: (@Sendable () -> Void)? = nil

    /// One snapshot per file: the file is opened once (never through a link), and the fingerprints, the consent
    /// decision, the sanitizing and its verification all use what was read through that descriptor. If its size,
    /// mtime or ctime change while it is in hand (a writer still holding it open), it is quarantined.
    func process(asset: String, path: RawPath, original: String) -> Runner.Processed {
        var item = Runner.Processed(
            asset: asset, claimed: path, fingerprints: nil, decision: nil, reasons: [], sanitized: nil,
            format: .unknown,
            original: original)
        // A large file mostly made of holes (`truncate -s 1T`) costs its writer nothing and its reader hours:
        // refused before a byte is read.
        var info = stat()
        if path.withCString({ lstat($0, &info) }) == 0, info.st_size > 64 << 20,
            Int64(info.st_blocks) * 512 < Int64(info.st_size) / 2
        {
            item.reasons.append(
                ("cannot_sanitize", "it is a sparse file (\(info.st_size) bytes, mostly holes): not a real picture or video"))
            return item
        }
        // Inspect. Pictures are read whole (within the limits); video and phone formats are read in place.
        let file: MediaFile
        do { file = try MediaFile(pathBytes: path.bytes, followLinks: false) } catch {
            item.reasons.append(("unreadable", "cannot be read: \(error)"))
            return item
        }
        item.format = file.format
        guard file.linkCount == 1 else {
            item.reasons.append(
                ("not_a_regular_file", "it has \(file.linkCount) names (a hard link made before the claim): never read"))
            return item
        }
        guard file.size > 0 else {
            item.reasons.append(("empty", "the file is empty"))
            return item
        }
        if file.format == .unknown {
            item.reasons.append(
                ("not_media", "this is not a picture or video ConsentGate can read (JPEG, PNG, WebP, GIF, HEIC/AVIF, MP4/MOV/3GP)"))
        }
        do { item.fingerprints = try file.fingerprints() } catch {
            // Unparseable: no content fingerprint, so only a record naming this exact file could match (and the
            // sanitizer will refuse it anyway).
            do {
                item.fingerprints = Fingerprints(
                    format: item.format, fileSHA256: try file.fileSHA256(), contentSHA256: nil)
            } catch {
                item.reasons.append(("unreadable", "cannot be read: \(error)"))
                return item
            }
        }
        afterFingerprints?()
        // Verify consent.
        let decision = ConsentPolicy.decide(
            presentedSHA256: item.fingerprints?.presentedSHA256,
            legacyContentSHA256: item.fingerprints?.legacyContentSHA256, fileSHA256: item.fingerprints?.fileSHA256,
            channel: config.channel, registry: registry, now: now, newPublication: true)
        item.decision = decision
        item.reasons += decision.reasons.map { ($0.code, $0.description) }
        // Sanitize what may be published; for the rest only check that it could be (so that its reasons are all
        // listed), unless it is not media at all.
        let approved = decision.approved && item.reasons.isEmpty
        if file.format != .unknown {
            do {
                let destination = config.publish + "/" + asset + "." + Stages.fileExtension(file.format)
                item.sanitized = try file.sanitize(
                    to: dryRun || !approved ? nil : destination,
                    options: SanitizeOptions(
                        keepOrientation: config.keepOrientation, keepICC: config.keepICC,
                        verifyDecode: config.verifyDecode),
                    knownContent: item.fingerprints?.contentSHA256)
                if !approved { item.sanitized = nil }
            } catch {
                // A read or write failure (a full publish disk, say) is not the file's fault: delivery leaves the
                // file claimed for the next run instead of quarantining it.
                if case .io(let why) = error, approved {
                    item.writeFailure = why
                } else {
                    item.reasons.append(("cannot_sanitize", "the sanitizer refuses it: \(error)"))
                }
            }
        }
        if let why = file.changedSinceOpened() {
            item.sanitized?.pending?.discard()
            item.sanitized = nil
            item.writeFailure = nil
            item.reasons.insert(("changed", why), at: 0)
        }
        if !item.reasons.isEmpty, let pending = item.sanitized?.pending {
            pending.discard()
            item.sanitized = nil
        }
        return item
    }

    static func fileExtension(_ format: MediaFormat) -> String { format.fileExtension }

    /// What a person can do about a reason.
    public static func advice(for code: String) -> String {
        switch code {
        case "no_record":
            return
                "Record the patient's signed authorization for this picture (consentgate authorize); the next run publishes it (it stays pending for pending_days)."
        case "expired": return "The authorization has expired: a new signed authorization is needed."
        case "revoked": return "The patient revoked consent: do not publish. Delete the picture when retention allows."
        case "channel_not_permitted":
            return
                "The authorization does not cover this channel: use a permitted channel or obtain a new authorization."
        case "purpose_not_permitted": return "The authorization does not cover marketing."
        case "not_yet_effective":
            return "Nothing to do: the picture stays pending and is published on the first run after the authorization takes effect."
        case "not_everyone_consented":
            return "Every person in the picture needs an authorization for it; once all are recorded, the next run publishes it."
        case "invalid_record":
            return
                "A record is invalid (see the reason): have the privacy office check it with consentgate records verify."
        case "superseded": return "A newer authorization replaces this one: check what it covers."
        case "old_fingerprint":
            return
                "The authorization names this picture by the old fingerprint: record it again (consentgate authorize, which writes presented_sha256); the next run publishes it."
        case "not_media":
            return "This is not a picture or video: do not drop it here. Nothing about it can be published."
        case "changed":
            return "The file was still being written: drop it again once the copy is complete."
        case "io_error":
            return "The file could not be delivered on three runs in a row: check the disks, then drop it again."
        case "cannot_sanitize", "unreadable", "empty":
            return "The file cannot be cleaned safely: export it again (JPEG, PNG, HEIC or MP4) and drop the new file."
        case "not_a_regular_file":
            return "Links and special files are never read: copy the picture itself into the drop folder."
        default: return "Ask the privacy office."
        }
    }
}
