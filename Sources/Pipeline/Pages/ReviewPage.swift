import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import MediaWorker

/// The privacy office's review page (`consentgate review`): one card per quarantined file with a preview made
/// fresh from its pixels (no metadata), its reasons in words and what to do, where and when it was dropped, its
/// content fingerprint and a ready `consentgate authorize` line. It shows original names: it is written 0600,
/// for the office's eyes only.
public enum ReviewPage {
    public struct Page: Sendable {
        public var html: String
        public var cards: Int
        public var pending: Int
    }

    /// What a card shows in place of the picture.
    enum Thumbnail: Equatable {
        case picture(jpeg: [UInt8], width: Int, height: Int)
        case placeholder(String)
    }

    /// Reasons no authorization can answer, whatever else the file has against it.
    static let neverConsent: Set<String> = [
        ReasonCode.revoked.rawValue, ReasonCode.notMedia.rawValue, ReasonCode.notARegularFile.rawValue,
    ]

    /// Reasons that an authorization can answer: the card then offers the `authorize` line.
    static let consentReasons: Set<String> = QuarantineState.curable.union([
        ReasonCode.expired.rawValue, ReasonCode.superseded.rawValue,
    ])

    public static func make(config: PipelineConfig, now: Date = Date(), media: MediaService = .inProcess)
        throws(PipelineError) -> Page
    {
        let entries = try QuarantineState.list(config: config, now: now)
        let standings = OfficeCards.standings(entries, config: config, now: now)
        let pending = entries.filter(\.pending)
        let person = entries.filter { !$0.pending }
        let zone = config.timeZone
        let escape = PlainWords.html
        var page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8">
            <title>Quarantine review: \(escape(config.name))</title>
            <style>\(style)\(facesStyle)</style></head><body>
            <h1>Quarantine review: \(escape(config.name))</h1>
            <p class="private">For the privacy office only: this page shows the names files were dropped under. \
            Do not forward it or leave it on a shared drive.</p>
            <p class="lead">\(summary(total: entries.count, pending: pending.count, person: person.count, config: config))</p>
            <p class="minor">Channel <b>\(escape(config.channel))</b> · made \(escape(PlainWords.time(now, in: zone))).</p>\n
            """
        if !pending.isEmpty {
            page += "<h2>Waiting for consent (\(pending.count))</h2>\n"
            for entry in pending { page += card(entry, config: config, media: media, standing: standings[entry.asset]) }
        }
        if !person.isEmpty {
            page += "<h2>Need a person (\(person.count))</h2>\n"
            for entry in person { page += card(entry, config: config, media: media, standing: standings[entry.asset]) }
        }
        page += legend(config: config) + "</body></html>\n"
        return Page(html: page, cards: entries.count, pending: pending.count)
    }

    static func summary(total: Int, pending: Int, person: Int, config: PipelineConfig) -> String {
        guard total > 0 else { return "Nothing is in quarantine: every dropped file was published or retracted." }
        var text = total == 1 ? "One file is in quarantine." : "\(total) files are in quarantine."
        if pending > 0 {
            text += " \(pending == 1 ? "One is" : "\(pending) are") <b>waiting for consent</b>: once a signed "
                + "authorization covering \(pending == 1 ? "it" : "them") is recorded (the line on each card does "
                + "that), the next run publishes \(pending == 1 ? "it" : "them"), with no file moved by hand."
        }
        if person > 0 {
            text += " \(person == 1 ? "One needs" : "\(person) need") <b>a person</b>: each card says what to do."
        }
        return text
    }

    static func card(
        _ entry: QuarantineEntry, config: PipelineConfig, media: MediaService, standing: ConsentStanding? = nil
    ) -> String {
        let escape = PlainWords.html
        let zone = config.timeZone
        let name = entry.originalName.isEmpty ? "(name not kept)" : entry.originalName
        var html = "<article class=\"card \(entry.pending ? "pending" : "person")\">\n<div class=\"preview\">"
        switch thumbnail(entry, config: config, media: media) {
        case .picture(let jpeg, let width, let height):
            let uri = "data:image/jpeg;base64," + Data(jpeg).base64EncodedString()
            // A small picture (a 96-pixel print proof) is shown larger, so a person can tell what it is.
            let scale = max(1.0, 160.0 / Double(max(width, height)))
            html += "<span class=\"framed\"><img src=\"\(uri)\" width=\"\(Int(Double(width) * scale))\" height=\"\(Int(Double(height) * scale))\""
            html += " alt=\"preview of \(escape(name))\">\(faceOverlay(entry.people))</span>"
        case .placeholder(let label): html += "<div class=\"placeholder\">\(escape(label))</div>"
        }
        html += "</div>\n<div class=\"body\">\n<h3>\(escape(name))</h3>\n"
        html += peopleLine(entry.people)
        if entry.pending {
            let until = entry.pendingUntil.map { PlainWords.day($0, in: zone) } ?? "the end of its waiting period"
            html += "<p class=\"status pending\">Waiting for consent: every run checks it again until "
            html += "\(escape(until)). Once an authorization covers it, the next run publishes it.</p>\n"
        } else {
            html += "<p class=\"status person\">Needs a person: \(escape(whyNotPending(entry, config: config)))</p>\n"
            // Who can act, and the exact command for them (the service account's, for what no record can cure).
            let action = OfficeCards.action(entry, config: config, standing: standing)
            if action.whoCanAct != "the privacy office", let command = action.command {
                html += "<p>Who can act: \(escape(action.whoCanAct)).</p>\n<pre class=\"command\">\(escape(command))</pre>\n"
            }
        }
        let folder = entry.subfolder.isEmpty ? "the inbox itself" : "the inbox folder “\(entry.subfolder)”"
        let age = entry.ageDays == 0 ? "today" : entry.ageDays == 1 ? "yesterday" : "\(entry.ageDays) days ago"
        html += "<p>Dropped into \(escape(folder)); quarantined \(escape(PlainWords.time(entry.quarantinedAt, in: zone)))"
        html += " (\(escape(age))).</p>\n<ul class=\"reasons\">\n"
        for reason in shownReasons(entry) {
            html += "<li><b>\(escape(PlainWords.reason(reason.code)))</b>"
            // The record and dates behind a reason; "no record" has nothing to add.
            if !reason.message.isEmpty && reason.code != ReasonCode.noRecord.rawValue {
                html += " <span class=\"minor\">(\(escape(reason.message)))</span>"
            }
            html += "<br>What to do: \(escape(advice(reason, entry: entry)))</li>\n"
        }
        html += "</ul>\n" + OfficeCards.consentHTML(standing)
        if let content = entry.presentedSHA256 {
            html += "<p>Content fingerprint: <code class=\"hash\">\(escape(content))</code></p>\n"
            if entry.reasons.contains(where: { consentReasons.contains($0.code) })
                && !entry.reasons.contains(where: { neverConsent.contains($0.code) })
            {
                html += "<p class=\"minor\">To record consent, fill in the key, the authorization id, the patient "
                html += "reference and the expiry day:</p>\n"
                html += "<pre class=\"command\">\(escape(authorizeLine(content: content, config: config)))</pre>\n"
            }
        }
        html += "<p class=\"minor\">Asset id \(escape(entry.asset)) · kept as \(escape(entry.file)) in the quarantine folder.</p>\n"
        return html + "</div>\n</article>\n"
    }

    /// The `authorize` command for this picture's fingerprint, with the pipeline's channel and authorizations folder.
    static func authorizeLine(content: String, config: PipelineConfig) -> String {
        "consentgate authorize --key KEY.key --id AUTH-... --subject PATIENT-REF --channels "
            + shellWord(config.channel) + " --expires YYYY-MM-DD --presented-sha256 " + content + " --out "
            + shellWord(config.authorizations)
    }

    /// A word the shell reads as itself: quoted when it holds anything but plain path characters.
    static func shellWord(_ text: String) -> String {
        let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:@,")
        if !text.isEmpty && text.unicodeScalars.allSatisfy({ plain.contains($0) }) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The reasons a card lists: for a file that is no picture at all, only that (that no record lists it is moot).
    static func shownReasons(_ entry: QuarantineEntry) -> [QuarantineEntry.Reason] {
        let blocking: Set<String> = [
            ReasonCode.notMedia.rawValue, ReasonCode.notARegularFile.rawValue, ReasonCode.empty.rawValue,
            ReasonCode.unreadable.rawValue,
        ]
        guard entry.reasons.contains(where: { blocking.contains($0.code) }) else { return entry.reasons }
        return entry.reasons.filter { !consentReasons.contains($0.code) }
    }

    /// Why a file is not waiting for consent, from its weightiest reason.
    static func whyNotPending(_ entry: QuarantineEntry, config: PipelineConfig) -> String {
        let codes = Set(entry.reasons.map(\.code))
        let order: [(ReasonCode, String)] = [
            (.revoked, "the patient withdrew consent. It must not be published."),
            (.notMedia, "this is not a picture or video, so it can never be published."),
            (.notARegularFile, "a link or special file was dropped, not a picture. Copy the picture itself."),
            (.invalidRecord, "a consent record for it is invalid. Have the records checked first."),
            (.changed, "it was still being written when it was read. Drop it again once the copy is complete."),
            (.cannotSanitize, "its metadata cannot be removed safely. Export it again and drop the new file."),
            (.unreadable, "it cannot be read. Export it again and drop the new file."),
            (.empty, "the file is empty. Drop the real picture."),
            (.ioError, "a disk error kept it from being delivered. Check the disks, then drop it again."),
            (.superseded, "a newer authorization replaces its own. Check what that covers, then drop it again."),
        ]
        if let (_, sentence) = order.first(where: { codes.contains($0.0.rawValue) }) { return sentence }
        if !codes.isEmpty && codes.isSubset(of: QuarantineState.curable) {
            return "it was quarantined more than \(Int(config.pendingDays)) days ago, so runs no longer check it. "
                + "Record the authorization, then drop the file into the inbox again."
        }
        return "a new authorization alone cannot publish it. See what to do below."
    }

    /// What to do about one reason. For a picture waiting for consent, recording the authorization is enough.
    static func advice(_ reason: QuarantineEntry.Reason, entry: QuarantineEntry) -> String {
        if entry.pending && QuarantineState.curable.contains(reason.code) {
            switch reason.code {
            case ReasonCode.notEveryoneConsented.rawValue:
                return "Record an authorization for each further person in the picture; the next run publishes it."
            case ReasonCode.notYetEffective.rawValue:
                return "Nothing: the next run after the authorization takes effect publishes it."
            default: return "Record the signed authorization (the line below); the next run publishes it."
            }
        }
        return reason.whatToDo.isEmpty ? "Ask the privacy office." : reason.whatToDo
    }

    /// A preview for JPEG and PNG within the preview limits; a labelled placeholder for everything else. A link
    /// or special file (kept as `.unread`) is never opened.
    static func thumbnail(_ entry: QuarantineEntry, config: PipelineConfig, media: MediaService) -> Thumbnail {
        if entry.file.hasSuffix(".unread") { return .placeholder("link or special file: never opened") }
        let path = config.quarantine + "/" + entry.file
        var info = stat()
        guard lstat(path, &info) == 0 else { return .placeholder("original missing from the quarantine folder") }
        guard info.st_mode & S_IFMT == S_IFREG else { return .placeholder("not a regular file: never opened") }
        do throws(MediaServiceError) {
            // Decoded by a sandboxed worker: the original may be hostile, and this page is made for a person.
            let source: FileSource
            do { source = try FileSource(pathBytes: Array(path.utf8), followLinks: false) } catch {
                throw .refused(error)
            }
            let preview = try media.preview(source.fd)
            return .picture(jpeg: preview.jpeg, width: preview.width, height: preview.height)
        } catch {
            switch error {
            case .refused(.unsupported(let format)): return .placeholder(placeholder(format: format))
            case .refused(.limitExceeded): return .placeholder("too large for a preview")
            case .refused(.malformed): return .placeholder("damaged picture: no preview")
            case .readerFailed: return .placeholder("the reader failed on it (damaged or crafted): no preview")
            default: return .placeholder("cannot be read: no preview")
            }
        }
    }

    static func placeholder(format: String) -> String {
        MediaFormat(rawValue: format)?.displayName.map { $0 + ": no preview" }
            ?? "not a picture or video: nothing to show"
    }

    static func legend(config: PipelineConfig) -> String {
        """
        <h2>What the page means</h2>
        <dl class="legend">
        <dt><span class="badge pending">Waiting for consent</span></dt><dd>Every reason is one a new or corrected \
        authorization can answer (no record yet, not yet in effect, not everyone in the picture, channel or purpose \
        not covered). Every run checks it again, for \(Int(config.pendingDays)) days after it was quarantined.</dd>
        <dt><span class="badge person">Needs a person</span></dt><dd>Consent was revoked, a record is invalid, the \
        file is not a picture, is damaged or changed while it was read, or the waiting period is over. ConsentGate \
        never publishes these by itself.</dd>
        <dt>Preview</dt><dd>Made fresh from the picture's pixels (at most 256 pixels a side) and carries none of the \
        original's metadata. Videos, HEIC, WebP, GIF and files that are not pictures show a label instead.</dd>
        <dt>Content fingerprint</dt><dd>The SHA-256 of the picture's content: an authorization that names it \
        (<code>--presented-sha256</code>) covers this picture, whatever its file name or metadata.</dd>
        <dt>The authorize line</dt><dd>Records a signed authorization for the picture by its fingerprint, into \
        this pipeline's authorizations folder. Replace KEY.key with the office's signing key, AUTH-... with the \
        form's id, PATIENT-REF with the patient's reference and YYYY-MM-DD with the day consent ends.</dd>
        <dt>Asset id</dt><dd>ConsentGate's opaque name for the file: the audit report and the ledger use only this.</dd>
        </dl>

        """
    }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222;line-height:1.4}
        .lead{font-size:110%}.minor{color:#555;font-size:90%}
        .private{background:#fff3cd;border:1px solid #e0c36a;padding:.5em 1em;border-radius:4px}
        .card{display:flex;gap:1.2em;border:1px solid #ccc;border-left:6px solid #999;border-radius:6px;padding:1em;margin:1em 0}
        .card.pending{border-left-color:#2a7ab0}.card.person{border-left-color:#c0392b}
        .preview{flex:0 0 256px;display:flex;align-items:flex-start;justify-content:center}
        .preview img{max-width:256px;max-height:256px;border:1px solid #ddd}
        .placeholder{width:256px;height:160px;display:flex;align-items:center;justify-content:center;text-align:center;
        background:#f2f2f2;color:#555;border:1px dashed #bbb;font-size:95%;padding:0 1em;box-sizing:border-box}
        .body{flex:1;min-width:0}.body h3{margin:0 0 .3em;word-break:break-all}
        .status{font-weight:bold}.status.pending{color:#1d5f8a}.status.person{color:#a12a1e}
        ul.reasons{padding-left:1.2em}ul.reasons li{margin-bottom:.4em}
        code.hash{word-break:break-all}
        pre.command{background:#f6f6f6;border:1px solid #ddd;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere;user-select:all}
        .badge{padding:0 .4em;border-radius:3px;color:#fff}.badge.pending{background:#2a7ab0}.badge.person{background:#c0392b}
        dl.legend dt{margin-top:.6em;font-weight:bold}dl.legend dd{margin-left:1.5em}
        """
}
