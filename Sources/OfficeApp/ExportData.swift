import ConsentRecords
import Foundation

/// What `review --export` wrote (`cards.json`), as the app reads it on every page: the gate's view after its last run.
struct ExportData: Decodable, Sendable {
    struct Reason: Decodable, Sendable {
        var code: String
        var words: String
        var message: String
        var whatToDo: String
    }
    struct Action: Decodable, Sendable {
        var cure: String
        var whoCanAct: String
        var command: String?
    }
    struct Holder: Decodable, Sendable {
        var id: String
        var subject: String
        var channels: [String]
        var expires: String
        var counts: Bool
        var problems: [String]
    }
    struct Consent: Decodable, Sendable {
        var required: Int
        var consented: [String]
        var missing: Int
        var holders: [Holder]
    }
    struct Card: Decodable, Sendable {
        var asset: String
        var originalName: String
        var quarantinedAt: String
        var status: String
        var pendingUntil: String?
        var reasons: [Reason]
        var action: Action
        var presentedSha256: String?
        var fileSha256: String?
        var channel: String
        var consent: Consent?
        /// Faces found when it was quarantined (absent in an export from before faces were counted).
        var facesFound: Int?
        var preview: String?
        var previewLabel: String?
    }
    struct Live: Decodable, Sendable {
        var asset: String
        var publishedName: String
        var publishedAt: String?
        var records: [String]
    }

    var format: String
    var pipeline: String
    var channel: String
    var madeAt: String
    var recordsProblem: String?
    var cards: [Card]
    var live: [Live]

    static func load(folder: String) -> Result<ExportData, OfficeProblem> {
        let path = (folder as NSString).appendingPathComponent("cards.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(
                OfficeProblem(
                    "No export at \(path) yet: the pipeline's office_export: is written after each run (or run "
                        + "consentgate review --export)."))
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            let export = try decoder.decode(ExportData.self, from: data)
            guard export.format == "consentgate.office-export/v1" else {
                return .failure(OfficeProblem("\(path) is not an export this version reads (\(export.format))."))
            }
            return .success(export)
        } catch {
            return .failure(OfficeProblem("\(path) cannot be read: \(error)"))
        }
    }

    func card(_ asset: String) -> Card? { cards.first { $0.asset == asset } }
}

struct OfficeProblem: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The records as they are now, when the app was given the trust file: the live answer to "who has consented".
struct LiveRecords: Sendable {
    var registry: Registry

    static func load(_ settings: OfficeSettings, now: Date) -> Result<LiveRecords, OfficeProblem> {
        guard let trust = settings.trust else { return .failure(OfficeProblem("no trust file given")) }
        do {
            let store = try TrustStore.load(path: trust)
            return .success(
                LiveRecords(
                    registry: try Registry.load(
                        folder: settings.authorizations, trust: store, now: now, timeZone: settings.timeZone)))
        } catch {
            return .failure(OfficeProblem("the records cannot be verified now: \(error)"))
        }
    }

    func standing(_ card: ExportData.Card, now: Date) -> ConsentStanding {
        ConsentStanding.of(
            presentedSHA256: card.presentedSha256, fileSHA256: card.fileSha256, channel: card.channel,
            registry: registry, now: now, visible: card.facesFound.map { VisiblePeople(faces: $0) })
    }

    /// What the next run decides for this card, by today's records.
    func decision(_ card: ExportData.Card, now: Date) -> ConsentDecision {
        ConsentPolicy.decide(
            presentedSHA256: card.presentedSha256, fileSHA256: card.fileSha256, channel: card.channel,
            registry: registry, now: now, newPublication: true, visible: card.facesFound.map { VisiblePeople(faces: $0) })
    }
}
