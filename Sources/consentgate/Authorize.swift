import ArgumentParser
import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import MediaWorker

struct Authorize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a patient's signed marketing authorization for pictures, signed with the office's key.",
        discussion: """
            consentgate authorize --key office.key --id AUTH-2026-0001 --subject P-7f3a9c \\
                --channels website,instagram --expires 2027-06-30 --out authorizations/ before.jpg after.jpg

            Computes each picture's presented_sha256 and file_sha256 and writes ID.json with ID.json.minisig into \
            the output folder. The subject is a pseudonymous reference, never a name. Records are never \
            replaced: to change one, write a new one with --supersedes. With --evidence-folder DIR (or a pipeline's \
            evidence:), the signed form (--form FILE) is stored there by its SHA-256 and the record names it. \
            --defaults FILE (or a pipeline's office_defaults:) supplies the fields an auditor expects (covered \
            entity, recipients, recorded_by, form template, signer); options win over it. Exit status: 0 written; \
            2 error.
            """)

    @Option(help: "The signing key (NAME.key, mode 0600).") var key: String
    @Option(help: "The record id; also its file name.") var id: String
    @Option(help: "Pseudonymous patient reference (no names).") var subject: String
    @Option(help: "Channels it permits, comma-separated (website,facebook,instagram,print...).") var channels: String
    @Option(help: "Expiry day (YYYY-MM-DD): from this day on it no longer applies.") var expires: String
    @Option(help: "First day it applies (YYYY-MM-DD; default today).") var effective: String?
    @Option(help: "Purposes, comma-separated.") var purposes: String = ConsentPolicy.purpose
    @Option(help: "People shown in the pictures; each must hold an authorization.") var peopleInFrame: Int?
    @Option(help: "The covered entity (the organisation).") var coveredEntity: String?
    @Option(help: "Recipients of the disclosure, comma-separated.") var recipients: String?
    @Option(help: "Day the patient signed (YYYY-MM-DD).") var signedOn: String?
    @Option(help: "Who signed: patient or representative.") var signer: String?
    @Option(help: "A representative's authority (e.g. 'parent of a minor').") var authority: String?
    @Option(help: "Id of the authorization form template.") var formTemplate: String?
    @Option(
        name: [.customLong("form"), .customLong("form-document")],
        help: "The signed form (scan or e-signed PDF): its SHA-256 is recorded; with --evidence-folder it is stored there.")
    var formDocument: String?
    @Option(help: "The evidence folder: the signed form is stored there as SHA256.EXT (default: the pipeline's evidence:).")
    var evidenceFolder: String?
    @Option(help: "The office's defaults file (YAML) for covered_entity, recipients, recorded_by, template_id, signer.")
    var defaults: String?
    @Option(help: "A pipeline file: its authorizations folder (for --out), evidence: and office_defaults:.")
    var pipeline: String?
    @Option(help: "Who records it (a staff id, not a name).") var recordedBy: String?
    @Option(help: "Id of an earlier authorization this one replaces (a record in --out, any letter case).")
    var supersedes: String?
    @Flag(help: "With --supersedes: write the record even when no record file in --out has that id.")
    var allowUnknownId = false
    @Option(help: "Folder to write the record into (default: the pipeline's authorizations folder).") var out: String?
    @Option(
        name: [.customLong("presented-sha256")],
        help: ArgumentHelp(
            "A picture's fingerprint (presented_sha256, 64 hex digits) as the review page or `quarantine list` "
                + "shows it; repeatable, instead of or besides naming files.", valueName: "HEX"))
    var presentedSHA256: [String] = []
    /// The old spelling, refused with what to use: a `content_sha256` copied from `inspect --json` (the old
    /// definition) would make a record that matches nothing.
    @Option(name: .customLong("content-sha256"), help: .hidden) var oldContentSHA256: [String] = []
    @Argument(help: "The pictures it covers.") var files: [String] = []

    @OptionGroup var workerOptions: WorkerOptions

    func run() throws {
        do {
            let signingKey = try KeyFiles.loadSecretKey(path: key)
            let office = try officeContext()
            let out = office.out
            let authorization = try build(office)
            try office.storeForm()
            try RecordWriter.write(
                RecordWriter.json(authorization), record: .authorization(authorization), to: out, key: signingKey)
            print(
                "written \(Escape.display((out as NSString).appendingPathComponent(id + ".json"))) and its .minisig (key \(signingKey.publicKey.keyIDHex))"
            )
        } catch {
            Output.error("authorize: \(Escape.display("\(error)"))")
            throw ExitCode(2)
        }
    }

    func build(_ office: OfficeContext) throws(RecordError) -> Authorization {
        let out = office.out
        func fail(_ why: String) -> RecordError { RecordError(reason: why) }
        guard oldContentSHA256.isEmpty else {
            throw fail(
                "--content-sha256 is now --presented-sha256: give the presented_sha256 that inspect, check, "
                    + "quarantine list and the review page show (inspect's legacy_content_sha256 matches no record)")
        }
        guard !files.isEmpty || !presentedSHA256.isEmpty else {
            throw fail("name at least one picture, or give --presented-sha256 HEX")
        }
        guard let expiresDay = CalendarDay(expires) else { throw fail("--expires must be YYYY-MM-DD") }
        // Days are the office's: today in this machine's time zone.
        let now = Date()
        let today = CalendarDay(now, in: TimeZone.current)
        let effectiveDay: CalendarDay
        if let effective {
            guard let day = CalendarDay(effective) else { throw fail("--effective must be YYYY-MM-DD") }
            effectiveDay = day
        } else {
            effectiveDay = today
        }
        guard expiresDay > today else {
            throw fail("--expires \(expiresDay) is not after today (\(today)): the authorization has already expired")
        }
        var assets: [AssetReference] = []
        for hex in presentedSHA256 {
            let value = hex.lowercased()
            guard value.count == 64, value.allSatisfy({ $0.isHexDigit }) else {
                throw fail("--presented-sha256 \(Escape.display(hex)) is not a SHA-256 (64 hexadecimal digits)")
            }
            assets.append(AssetReference(presentedSHA256: value, fileSHA256: nil, peopleInFrame: peopleInFrame))
        }
        // The files' bytes are read by sandboxed workers only.
        var media: MediaService? = nil
        if !files.isEmpty {
            do {
                media = try Workers.media(memoryMB: workerOptions.workerMemoryMb, seconds: workerOptions.workerSeconds)
            } catch { throw fail("\(error)") }
        }
        defer { media?.shutdown() }
        for file in files {
            do {
                let source = try FileSource(path: file)
                let reading = try media!.fingerprints(source.fd)
                guard reading.format != .unknown else {
                    throw fail("\(Escape.display(file)) is not a picture or video ConsentGate can read: nothing to authorize")
                }
                if let why = reading.parseError { throw fail("cannot fingerprint \(file): \(why)") }
                let prints = reading.fingerprints
                assets.append(
                    AssetReference(
                        presentedSHA256: prints.presentedSHA256, fileSHA256: prints.fileSHA256,
                        peopleInFrame: peopleInFrame))
            } catch let error as RecordError {
                throw error
            } catch {
                throw fail("cannot fingerprint \(file): \(error)")
            }
        }
        var form: Authorization.Form? = nil
        let template = formTemplate ?? office.defaults.templateID
        if template != nil || office.form != nil {
            form = .init(templateID: template, documentSHA256: office.form.map { sha256Hex($0.bytes) })
        }
        let split: (String) -> [String] = { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let authorization = Authorization(
            id: id, subject: subject, coveredEntity: coveredEntity ?? office.defaults.coveredEntity,
            purposes: split(purposes),
            channels: split(channels),
            recipients: recipients.map(split) ?? office.defaults.recipients, assets: assets, effective: effectiveDay,
            expires: expiresDay, signedOn: signedOn.flatMap(CalendarDay.init),
            signer: (signer ?? office.defaults.signer).map { .init(kind: $0, authority: authority) },
            form: form,
            recordedBy: recordedBy ?? office.defaults.recordedBy, recordedAt: now,
            supersedes: try supersedes.map { old throws(RecordError) in
                try RecordIDs.resolve(
                    old, option: "--supersedes", folder: out, allowUnknown: allowUnknownId, command: "authorize")
            })
        if let signedOn, CalendarDay(signedOn) == nil { throw fail("--signed-on must be YYYY-MM-DD") }
        // The record must pass the same strict reading every verifier applies, and be plausible.
        _ = try RecordParser.parse(RecordWriter.json(authorization))
        if let problem = Plausibility.problem(
            .authorization(authorization), signedAt: now, now: now, timeZone: TimeZone.current)
        {
            throw fail("the record would be invalid: \(problem)")
        }
        return authorization
    }
}
