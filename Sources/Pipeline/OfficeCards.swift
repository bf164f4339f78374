import ConsentRecords
import Foundation

/// What the privacy office is shown of one quarantined file, beyond its reasons: who has consented to it already
/// (from today's records), what would cure it, who can act on it and the exact command. Shared by the review page
/// and `review --export` (the office app's data). It explains decisions; it decides nothing.
public enum OfficeCards {
    /// The pipeline's records as a run would see them now, or nil when they cannot be verified (then no card
    /// claims anyone consented).
    static func registry(config: PipelineConfig, now: Date) -> Registry? {
        guard let trust = try? TrustStore.load(path: config.trust) else { return nil }
        let ledger = (try? LedgerStores.openIfPresent(config)) ?? nil
        defer { ledger?.disconnect() }
        guard let registry = try? PipelineRecords.load(config: config, trust: trust, ledger: ledger, now: now),
            registry.unverifiableBecause == nil
        else { return nil }
        return registry
    }

    /// Each entry's consent standing by asset id (none when the records cannot be verified now).
    static func standings(_ entries: [QuarantineEntry], config: PipelineConfig, now: Date) -> [String: ConsentStanding] {
        guard !entries.isEmpty, let registry = registry(config: config, now: now) else { return [:] }
        var result: [String: ConsentStanding] = [:]
        for entry in entries where entry.presentedSHA256 != nil || entry.fileSHA256 != nil {
            result[entry.asset] = ConsentStanding.of(
                presentedSHA256: entry.presentedSHA256, fileSHA256: entry.fileSHA256, channel: config.channel,
                registry: registry, now: now, visible: entry.visiblePeople)
        }
        return result
    }

    /// The review page's paragraph on who consented: each authorization that lists the picture, whether it counts,
    /// and how many people are still missing. Empty when no record lists it and it shows one person.
    static func consentHTML(_ standing: ConsentStanding?) -> String {
        guard let standing, !standing.holders.isEmpty || standing.required > 1 else { return "" }
        let escape = PlainWords.html
        var html = "<div class=\"consent\"><p><b>\(escape(standing.summary)).</b>"
        html += standing.holders.isEmpty ? "</p>\n" : " Authorizations that list this picture:</p>\n<ul>\n"
        for holder in standing.holders {
            html += "<li>\(escape(holder.subject)): \(escape(holder.id)), channels "
            html += "\(escape(holder.channels.joined(separator: ", "))), until \(escape(holder.expires)) — "
            html +=
                holder.counts
                ? "<b>counts</b>"
                : "does not count (\(escape(holder.problems.map { PlainWords.reason($0) }.joined(separator: " "))))"
            html += "</li>\n"
        }
        if !standing.holders.isEmpty { html += "</ul>\n" }
        if standing.missing > 0 {
            let others = standing.consented.isEmpty ? "" : " (someone other than \(standing.consented.joined(separator: ", ")))"
            html += "<p>Missing: \(standing.missing == 1 ? "one more person's" : "\(standing.missing) more people's") "
            html += "authorization\(escape(others)).</p>\n"
        }
        return html + "</div>\n"
    }

    /// What cures a quarantined file, who can act, and the exact command for them.
    public struct Action: Sendable, Equatable, Encodable {
        public var cure: String
        public var whoCanAct: String
        public var command: String?
    }

    static let serviceAccount = "the service account (the user that runs consentgate on the server)"

    static func action(_ entry: QuarantineEntry, config: PipelineConfig, standing: ConsentStanding?) -> Action {
        let codes = Set(entry.reasons.map { ReasonCode(rawValue: $0.code) ?? .unknown })
        let pipeline = ReviewPage.shellWord(config.file)
        let authorize = entry.presentedSHA256.map { ReviewPage.authorizeLine(content: $0, config: config) }
        let purge = "consentgate quarantine purge --pipeline \(pipeline) --older-than \(entry.ageDays) --dry-run"
        let purgeNote =
            " (--older-than \(entry.ageDays) removes every quarantined original at least that old that is not "
            + "pending: check the dry run's list, then run it without --dry-run)"
        if entry.pending {
            let cure: String
            if codes.contains(.notEveryoneConsented), let standing, standing.missing > 0 {
                cure = "An authorization from each person still missing (\(standing.summary)); the next run publishes it."
            } else if codes.contains(.expired) {
                cure = "A new signed authorization that lists this picture (the one it had expired); the next run publishes it."
            } else if codes.contains(.channelNotPermitted) {
                cure = "An authorization that permits the channel \(config.channel) and lists this picture; the next run publishes it."
            } else if codes == [.notYetEffective] {
                cure = "Nothing: the first run after the authorization takes effect publishes it."
            } else {
                cure = "A signed authorization that lists this picture (by its fingerprint); the next run publishes it."
            }
            return Action(cure: cure, whoCanAct: "the privacy office", command: authorize)
        }
        if codes.contains(.revoked) {
            return Action(
                cure: "Nothing: the patient withdrew consent, so it is never published. Its original is removed when "
                    + "retention allows" + purgeNote + ".",
                whoCanAct: serviceAccount, command: purge)
        }
        if codes.contains(.takenDown) {
            return Action(
                cure: "A signed lift of the takedown (consentgate incident lift), then the original dropped again.",
                whoCanAct: "the privacy office", command: nil)
        }
        if codes.contains(.notMedia) || codes.contains(.notARegularFile) {
            return Action(
                cure: "Nothing: it is not a picture or video, so it can never be published. The quarantined file is "
                    + "removed by the service account" + purgeNote + ".",
                whoCanAct: serviceAccount, command: purge)
        }
        if codes.contains(.invalidRecord) {
            return Action(
                cure: "The invalid record fixed or removed from the authorizations folder (records verify names it), "
                    + "then the picture dropped again.",
                whoCanAct: "the privacy office",
                command: "consentgate records verify --authorizations \(ReviewPage.shellWord(config.authorizations)) "
                    + "--trust \(ReviewPage.shellWord(config.trust))")
        }
        let damaged: Set<ReasonCode> = [.cannotSanitize, .unreadable, .empty, .readerFailed, .changed, .ioError]
        if !codes.isDisjoint(with: damaged) {
            return Action(
                cure: "The picture exported again from its source and the new file dropped into the inbox (staff can "
                    + "do that); the damaged copy in quarantine is removed by the service account" + purgeNote + ".",
                whoCanAct: serviceAccount, command: purge)
        }
        if !codes.isEmpty && codes.allSatisfy(\.isCurable) {
            return Action(
                cure: "Runs no longer check it (quarantined more than \(Int(config.pendingDays)) days ago): record "
                    + "the authorization, then drop the picture into the inbox again.",
                whoCanAct: "the privacy office, then whoever drops pictures", command: authorize)
        }
        return Action(
            cure: "A person must look at it: see its reasons.", whoCanAct: serviceAccount,
            command: "consentgate quarantine list --pipeline \(pipeline)")
    }
}
