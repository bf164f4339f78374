import ArgumentParser
import ByteKit
import ConsentRecords
import Foundation
import MediaFormats
import MediaWorker

/// `consentgate review-record`: the privacy office's signed statement of how many people a picture shows
/// (`consentgate.review/v1`, issue #24), where the face detector errs.
struct ReviewRecord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review-record",
        abstract: "Record how many people are identifiable in a picture (a signed review, where the detector errs).",
        discussion: """
            consentgate review-record --key office.key --id REV-2026-0001 --people 1 \\
                --note "the second face is a poster" --out authorizations/ group.jpg

            Names the picture by its presented_sha256 (computed from the file, or given with --presented-sha256 as \
            the review page shows it) and writes ID.json with ID.json.minisig; the key's trust entry needs the \
            role review. Pipelines then require that many distinct consenting subjects instead of the faces the \
            detector counted (never fewer than an authorization's people_in_frame). Exit status: 0 written; 2 error.
            """)

    @Option(help: "The signing key (NAME.key, mode 0600; its trust entry needs the role review).") var key: String
    @Option(help: "The record id; also its file name.") var id: String
    @Option(help: "How many people are identifiable in the picture (0 or more).") var people: Int
    @Option(help: "Why (e.g. 'the second face is a poster'); never a patient's name.") var note: String?
    @Option(help: "Who records it (a staff id, not a name).") var recordedBy: String?
    @Option(help: "Folder to write the record into.") var out: String
    @Option(
        name: [.customLong("presented-sha256")],
        help: ArgumentHelp("The picture's presented_sha256 (64 hex digits), instead of the file.", valueName: "HEX"))
    var presentedSHA256: String?
    @Argument(help: "The picture it is about.") var file: String?

    @OptionGroup var workerOptions: WorkerOptions

    func validate() throws {
        guard (file == nil) != (presentedSHA256 == nil) else {
            throw ValidationError("name the picture: a file or --presented-sha256, one of them")
        }
    }

    func run() throws {
        do {
            let signingKey = try KeyFiles.loadSecretKey(path: key)
            var presented = presentedSHA256
            if let file {
                let source = try FileSource(path: file)
                let media = try workerOptions.media(command: "review-record", workers: 1)
                defer { media.shutdown() }
                let reading = try media.fingerprints(source.fd, hashFile: false)
                guard let print = reading.fingerprints.presentedSHA256 else {
                    throw RecordError(reason: "\(file) cannot be read as a picture: \(reading.parseError ?? "unknown")")
                }
                presented = print
            }
            let now = Date()
            let review = PeopleReview(
                id: id, presentedSHA256: presented, peopleVisible: people, note: note, recordedBy: recordedBy,
                recordedAt: now)
            try review.validate()
            let path = try RecordWriter.write(
                RecordWriter.json(review), record: .review(review), to: out, key: signingKey, now: now)
            print(
                "written \(Escape.display(path)) and its .minisig (key \(signingKey.publicKey.keyIDHex)): "
                    + "\(people) \(people == 1 ? "person" : "people") in \(presented ?? "?")")
        } catch let error as RecordError {
            Output.error("review-record: \(Escape.display(error.description))")
            throw ExitCode(2)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.error("review-record: \(error)")
            throw ExitCode(2)
        }
    }
}
