import ArgumentParser
import ConsentRecords
import Foundation
import MediaFormats

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "May this picture be posted? The verdict, the records that match, the metadata found. Changes nothing.",
        discussion: """
            consentgate check photo.jpg --channel instagram --authorizations /srv/share/authorizations \\
                --trust /etc/consentgate/trust.yml

            Publishable only when a valid authorization covers the picture on this channel (SPEC §5) and the
            sanitizer can clean it. Every reason that applies is listed. Exit status: 0 publishable; 1 would be
            quarantined; 2 error (unreadable file, bad trust file or folder).
            """)

    @Argument(help: "The picture to check.") var file: String
    @Option(help: "The channel to publish on (website, facebook, instagram, print...).") var channel: String
    @OptionGroup var sources: RecordSources
    @Flag(help: "Print the verdict as JSON.") var json = false

    struct Report: Encodable {
        var publishable: Bool
        var channel: String
        var format: String
        var fileSha256: String
        var contentSha256: String?
        var reasons: [Reason]
        var recordsUsed: [String]
        var recordsMatching: [String]
        var metadataFound: [MetadataItem]
        var sanitizer: String

        struct Reason: Encodable {
            var code: String
            var message: String
        }
    }

    func run() throws {
        let now = try sources.moment()
        let bytes: [UInt8]
        do { bytes = try FileIO.readFile(atPath: file, limit: MediaLimits().maxFileBytes) } catch {
            Output.error("check: \(error)")
            throw ExitCode(2)
        }
        let registry = try sources.registry(now: now, command: "check")
        let inspection = Inspector.inspect(bytes)
        let decision = ConsentPolicy.decide(
            contentSHA256: inspection.contentSHA256, fileSHA256: inspection.fileSHA256, channel: channel,
            registry: registry, now: now)
        var reasons = decision.reasons.map { Report.Reason(code: $0.code, message: $0.description) }
        let sanitizer: String
        do {
            _ = try Sanitizer.sanitize(bytes)
            sanitizer = "can be sanitized"
        } catch {
            sanitizer = error.description
            reasons.append(.init(code: "cannot_sanitize", message: "the sanitizer refuses it: \(error)"))
        }
        let publishable = decision.approved && reasons.isEmpty
        let report = Report(
            publishable: publishable, channel: channel, format: inspection.format.rawValue,
            fileSha256: inspection.fileSHA256,
            contentSha256: inspection.contentSHA256, reasons: reasons, recordsUsed: decision.usedRecords,
            recordsMatching: decision.matchingRecords, metadataFound: inspection.metadata, sanitizer: sanitizer)
        if json {
            Output.json(report)
        } else {
            print(publishable ? "PUBLISHABLE on \(channel)" : "NOT PUBLISHABLE on \(channel) (would be quarantined)")
            for reason in reasons { print("  - \(reason.message)") }
            if !decision.usedRecords.isEmpty { print("records used: \(decision.usedRecords.joined(separator: ", "))") }
            if !decision.matchingRecords.isEmpty {
                print("records matching: \(decision.matchingRecords.joined(separator: ", "))")
            }
            print("format: \(report.format); content_sha256: \(report.contentSha256 ?? "(unknown)")")
            print("metadata found (removed on publishing): \(inspection.metadata.count) item(s)")
            for family in Dictionary(grouping: inspection.metadata, by: \.family).sorted(by: { $0.key < $1.key }) {
                print("  \(family.key): \(family.value.count)")
            }
        }
        if !publishable { throw ExitCode(1) }
    }
}
