import Foundation

/// One picture an authorization covers, by its fingerprints.
public struct AssetReference: Sendable, Equatable {
    /// `presented_sha256` (SPEC §4, definition 2): the coded data and everything kept that changes what a viewer
    /// sees or hears. What the decision matches.
    public var presentedSHA256: String?
    /// `content_sha256`, the old definition 1 (coded data only, blind to edit lists, crops and colour). A record
    /// may still carry it, but it matches nothing: an asset named only by it must be re-recorded.
    public var contentSHA256: String?
    public var fileSHA256: String?
    public var label: String?
    /// How many people the picture shows; each must hold an authorization for it.
    public var peopleInFrame: Int?

    public init(
        presentedSHA256: String?, contentSHA256: String? = nil, fileSHA256: String?, label: String? = nil,
        peopleInFrame: Int? = nil
    ) {
        self.presentedSHA256 = presentedSHA256
        self.contentSHA256 = contentSHA256
        self.fileSHA256 = fileSHA256
        self.label = label
        self.peopleInFrame = peopleInFrame
    }

    /// Named by the old content fingerprint and by nothing current: it approves no picture.
    public var isOldDefinitionOnly: Bool { contentSHA256 != nil && presentedSHA256 == nil && fileSHA256 == nil }
}

/// `consentgate.authorization/v1`: a patient's signed marketing authorization (45 CFR 164.508).
public struct Authorization: Sendable, Equatable {
    public static let type = "consentgate.authorization/v1"
    public var id: String
    public var subject: String
    public var coveredEntity: String?
    public var purposes: [String]
    public var channels: [String]
    public var recipients: [String]?
    public var assets: [AssetReference]
    public var effective: CalendarDay
    public var expires: CalendarDay
    public var signedOn: CalendarDay?
    public var signer: Signer?
    public var form: Form?
    public var recordedBy: String?
    public var recordedAt: Date?
    public var supersedes: String?

    public init(
        id: String, subject: String, coveredEntity: String? = nil, purposes: [String], channels: [String],
        recipients: [String]? = nil, assets: [AssetReference], effective: CalendarDay, expires: CalendarDay,
        signedOn: CalendarDay? = nil, signer: Signer? = nil, form: Form? = nil, recordedBy: String? = nil,
        recordedAt: Date? = nil, supersedes: String? = nil
    ) {
        self.id = id
        self.subject = subject
        self.coveredEntity = coveredEntity
        self.purposes = purposes
        self.channels = channels
        self.recipients = recipients
        self.assets = assets
        self.effective = effective
        self.expires = expires
        self.signedOn = signedOn
        self.signer = signer
        self.form = form
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
        self.supersedes = supersedes
    }

    public struct Signer: Sendable, Equatable {
        /// "patient" or "representative".
        public var kind: String
        /// The representative's authority (parent of a minor, health-care proxy...).
        public var authority: String?

        public init(kind: String, authority: String? = nil) {
            self.kind = kind
            self.authority = authority
        }
    }

    public struct Form: Sendable, Equatable {
        public var templateID: String?
        public var documentSHA256: String?

        public init(templateID: String?, documentSHA256: String?) {
            self.templateID = templateID
            self.documentSHA256 = documentSHA256
        }
    }

    /// Fields an auditor expects that this record leaves out (`records verify` warns of them).
    public var missingAuditFields: [String] {
        var missing: [String] = []
        if coveredEntity == nil { missing.append("covered_entity") }
        if recipients == nil { missing.append("recipients") }
        if signedOn == nil { missing.append("signed_on") }
        if signer == nil { missing.append("signer") }
        if form == nil { missing.append("form") }
        if recordedBy == nil { missing.append("recorded_by") }
        if recordedAt == nil { missing.append("recorded_at") }
        return missing
    }
}

/// `consentgate.revocation/v1`: the patient's written revocation, effective from `receivedAt`.
public struct Revocation: Sendable, Equatable {
    public static let type = "consentgate.revocation/v1"
    public var id: String
    public var authorization: String
    public var receivedAt: Date
    /// Nil: every channel.
    public var channels: [String]?
    public var evidenceSHA256: String?
    public var recordedBy: String?

    public init(
        id: String, authorization: String, receivedAt: Date, channels: [String]? = nil, evidenceSHA256: String? = nil,
        recordedBy: String? = nil
    ) {
        self.id = id
        self.authorization = authorization
        self.receivedAt = receivedAt
        self.channels = channels
        self.evidenceSHA256 = evidenceSHA256
        self.recordedBy = recordedBy
    }
}

public enum Record: Sendable, Equatable {
    case authorization(Authorization)
    case revocation(Revocation)
    case takedown(Takedown)
    case takedownLift(TakedownLift)
    case review(PeopleReview)

    public var id: String {
        switch self {
        case .authorization(let a): return a.id
        case .revocation(let r): return r.id
        case .takedown(let t): return t.id
        case .takedownLift(let l): return l.id
        case .review(let r): return r.id
        }
    }

    /// Its `type`.
    public var type: String {
        switch self {
        case .authorization: return Authorization.type
        case .revocation: return Revocation.type
        case .takedown: return Takedown.type
        case .takedownLift: return TakedownLift.type
        case .review: return PeopleReview.type
        }
    }

    /// The trust role a key needs to sign it.
    public var role: KeyRole {
        switch self {
        case .authorization: return .authorize
        case .revocation: return .revoke
        case .takedown, .takedownLift: return .takedown
        case .review: return .review
        }
    }
}

/// Why a record's JSON was refused.
public struct RecordError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Strict reading of record JSON: unknown fields, duplicate keys, wrong types, missing required fields
/// and bad dates are all errors. The bytes are parsed as signed; nothing is re-serialized.
public enum RecordParser {
    static let authorizationFields: Set<String> = [
        "type", "id", "subject", "covered_entity", "purposes", "channels", "recipients", "assets", "effective",
        "expires", "signed_on", "signer", "form", "recorded_by", "recorded_at", "supersedes",
    ]
    static let revocationFields: Set<String> = [
        "type", "id", "authorization", "received_at", "scope", "evidence_sha256", "recorded_by",
    ]

    public static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, id.unicodeScalars.count <= 128,
            CharacterSet.alphanumerics.contains(first), first.isASCII
        else { return false }
        return id.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
        }
    }

    /// A channel name: lower-case letters, digits, '-' and '_'.
    public static func isValidChannel(_ channel: String) -> Bool {
        !channel.isEmpty && channel.count <= 64
            && channel.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
            }
    }

    /// A pseudonymous subject reference: no spaces, so a typed name ("Jane Doe") is refused.
    public static func isValidSubject(_ subject: String) -> Bool {
        !subject.isEmpty && subject.count <= 64
            && subject.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._:-".unicodeScalars.contains($0))
            }
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    public static func parse(_ bytes: [UInt8]) throws(RecordError) -> Record {
        let root: JSONValue
        do { root = try StrictJSON.parse(bytes) } catch { throw RecordError(reason: error.description) }
        var reader = try ObjectReader(root, place: "the record")
        let type = try reader.string("type")
        switch type {
        case Authorization.type: return .authorization(try authorization(&reader))
        case Revocation.type: return .revocation(try revocation(&reader))
        case Takedown.type: return .takedown(try takedown(&reader))
        case TakedownLift.type: return .takedownLift(try lift(&reader))
        case PeopleReview.type: return .review(try review(&reader))
        default: throw RecordError(reason: "unknown record type \"\(type)\"")
        }
    }

    static func authorization(_ reader: inout ObjectReader) throws(RecordError) -> Authorization {
        try reader.refuseUnknown(authorizationFields)
        let id = try reader.id("id")
        let subject = try reader.string("subject")
        guard isValidSubject(subject) else {
            throw RecordError(
                reason: "\"subject\" must be a pseudonymous reference (letters, digits, . _ : -), never a name")
        }
        let purposes = try reader.stringList("purposes")
        let channels = try reader.stringList("channels")
        for channel in channels where !isValidChannel(channel) {
            throw RecordError(reason: "channel \"\(channel)\" is not a valid channel name (a-z, 0-9, - and _)")
        }
        let assetValues = try reader.array("assets")
        guard !assetValues.isEmpty else { throw RecordError(reason: "\"assets\" must list at least one asset") }
        var assets: [AssetReference] = []
        for (index, value) in assetValues.enumerated() {
            let asset = try ObjectReader(value, place: "asset \(index + 1)")
            try asset.refuseUnknown(["presented_sha256", "content_sha256", "file_sha256", "label", "people_in_frame"])
            let presented = try asset.optionalHash("presented_sha256")
            let content = try asset.optionalHash("content_sha256")
            let file = try asset.optionalHash("file_sha256")
            guard presented != nil || content != nil || file != nil else {
                throw RecordError(reason: "asset \(index + 1) has neither presented_sha256 nor file_sha256")
            }
            let people = try asset.optionalInteger("people_in_frame")
            if let people, !(1...100).contains(people) {
                throw RecordError(reason: "asset \(index + 1): people_in_frame must be between 1 and 100")
            }
            assets.append(
                AssetReference(
                    presentedSHA256: presented, contentSHA256: content, fileSHA256: file,
                    label: try asset.optionalString("label"), peopleInFrame: people))
        }
        let effective = try reader.day("effective")
        let expires = try reader.day("expires")
        guard effective < expires else {
            throw RecordError(reason: "\"expires\" (\(expires)) is not after \"effective\" (\(effective))")
        }
        var signer: Authorization.Signer? = nil
        if let value = reader.optional("signer") {
            let object = try ObjectReader(value, place: "signer")
            try object.refuseUnknown(["kind", "authority"])
            let kind = try object.string("kind")
            guard kind == "patient" || kind == "representative" else {
                throw RecordError(reason: "signer.kind must be \"patient\" or \"representative\"")
            }
            let authority = try object.optionalString("authority")
            if kind == "representative" && (authority ?? "").isEmpty {
                throw RecordError(reason: "a representative signer needs \"authority\" (the legal basis to sign)")
            }
            signer = .init(kind: kind, authority: authority)
        }
        var form: Authorization.Form? = nil
        if let value = reader.optional("form") {
            let object = try ObjectReader(value, place: "form")
            try object.refuseUnknown(["template_id", "document_sha256"])
            form = .init(
                templateID: try object.optionalString("template_id"),
                documentSHA256: try object.optionalHash("document_sha256"))
        }
        var recordedAt: Date? = nil
        if let text = try reader.optionalString("recorded_at") {
            guard let date = Timestamp.parse(text) else {
                throw RecordError(reason: "\"recorded_at\" must be an RFC 3339 timestamp")
            }
            recordedAt = date
        }
        var supersedes: String? = nil
        if reader.optional("supersedes") != nil { supersedes = try reader.id("supersedes") }
        return Authorization(
            id: id, subject: subject, coveredEntity: try reader.optionalString("covered_entity"), purposes: purposes,
            channels: channels,
            recipients: reader.optional("recipients") == nil ? nil : try reader.stringList("recipients"),
            assets: assets, effective: effective, expires: expires,
            signedOn: reader.optional("signed_on") == nil ? nil : try reader.day("signed_on"), signer: signer,
            form: form,
            recordedBy: try reader.optionalString("recorded_by"), recordedAt: recordedAt, supersedes: supersedes)
    }

    static func revocation(_ reader: inout ObjectReader) throws(RecordError) -> Revocation {
        try reader.refuseUnknown(revocationFields)
        let id = try reader.id("id")
        let authorization = try reader.id("authorization")
        let receivedText = try reader.string("received_at")
        guard let received = Timestamp.parse(receivedText) else {
            throw RecordError(reason: "\"received_at\" must be an RFC 3339 timestamp")
        }
        var channels: [String]? = nil
        switch reader.optional("scope") {
        case nil, .string("all")?:
            channels = nil
        case .array?:
            let list = try reader.stringList("scope")
            // The same rule as an authorization's channels: a revocation for "Instagram " must not silently
            // leave "instagram" published.
            for channel in list where !isValidChannel(channel) {
                throw RecordError(
                    reason: "scope channel \"\(channel)\" is not a valid channel name (a-z, 0-9, - and _)")
            }
            channels = list
        default:
            throw RecordError(reason: "\"scope\" must be \"all\" or a list of channels")
        }
        return Revocation(
            id: id, authorization: authorization, receivedAt: received, channels: channels,
            evidenceSHA256: try reader.optionalHash("evidence_sha256"),
            recordedBy: try reader.optionalString("recorded_by"))
    }
}
