import Foundation

/// What a takedown selects (SPEC §5): every kind given must match (AND), any value of a kind may (OR). `all` is
/// the explicit "everything" a takedown that names no record, subject, key, fingerprint or asset must say, so
/// that a forgotten selector never takes a whole channel down by accident (nor a typo leaves one up).
public struct TakedownSelectors: Sendable, Equatable {
    /// Authorization ids; each selects its whole `supersedes` chain.
    public var records: [String] = []
    public var subjects: [String] = []
    /// Signing keys' ids (16 hex digits): everything those keys signed.
    public var keys: [String] = []
    /// `presented_sha256` or `file_sha256` of a picture.
    public var fingerprints: [String] = []
    /// Opaque asset ids from the ledger.
    public var assets: [String] = []
    public var channels: [String] = []
    public var pipelines: [String] = []
    /// Published at or after `from` and at or before `to`.
    public var publishedFrom: Date?
    public var publishedTo: Date?
    public var all = false

    public init() {}

    /// Whether it names what to take down (anything but channel, pipeline and period).
    public var identifies: Bool {
        !(records.isEmpty && subjects.isEmpty && keys.isEmpty && fingerprints.isEmpty && assets.isEmpty)
    }

    /// A line a person reads: "key 0123456789ABCDEF; channel instagram".
    public var words: String {
        var parts: [String] = []
        func add(_ name: String, _ values: [String]) {
            if !values.isEmpty { parts.append("\(name) \(values.joined(separator: ", "))") }
        }
        add("record", records)
        add("subject", subjects)
        add("key", keys)
        add("fingerprint", fingerprints)
        add("asset", assets)
        add("channel", channels)
        add("pipeline", pipelines)
        if publishedFrom != nil || publishedTo != nil {
            parts.append(
                "published between \(publishedFrom.map(Timestamp.format) ?? "the start") and "
                    + "\(publishedTo.map(Timestamp.format) ?? "now")")
        }
        if all { parts.insert("everything", at: 0) }
        return parts.joined(separator: "; ")
    }

    /// Checks the selectors' rules (also for the command line, before anything is signed).
    public func validate() throws(RecordError) {
        if all && identifies {
            throw RecordError(reason: "\"all\" cannot be combined with records, subjects, keys, fingerprints or assets")
        }
        if !all && !identifies {
            throw RecordError(
                reason:
                    "a takedown must name records, subjects, keys, fingerprints or assets, or say \"all\" (with a channel, pipeline or period)"
            )
        }
        for id in records + assets where !RecordParser.isValidID(id) {
            throw RecordError(reason: "\"\(id)\" is not a valid record or asset id")
        }
        for subject in subjects where !RecordParser.isValidSubject(subject) {
            throw RecordError(reason: "subject \"\(subject)\" must be a pseudonymous reference, never a name")
        }
        for key in keys
        where key.utf8.count != 16 || !key.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) })
        {
            throw RecordError(reason: "key \"\(key)\" must be a key id of 16 upper-case hex digits")
        }
        for hash in fingerprints where !RecordParser.isSHA256(hash) {
            throw RecordError(reason: "fingerprint \"\(hash)\" must be 64 lower-case hex digits")
        }
        for channel in channels where !RecordParser.isValidChannel(channel) {
            throw RecordError(reason: "channel \"\(channel)\" is not a valid channel name (a-z, 0-9, - and _)")
        }
        for pipeline in pipelines where pipeline.isEmpty || pipeline.count > 128 {
            throw RecordError(reason: "pipeline names must be 1-128 characters")
        }
        if let from = publishedFrom, let to = publishedTo, to < from {
            throw RecordError(reason: "published_between: the end lies before the start")
        }
    }
}

/// What a publication (or a picture about to be published) is, for matching against takedowns.
public struct TakedownTarget: Sendable {
    public var pipeline: String?
    public var channel: String
    public var asset: String?
    public var fingerprints: Set<String>
    /// Folded ids of the records it stands on (or would), with their chains.
    public var records: Set<String>
    /// Folded subjects.
    public var subjects: Set<String>
    public var keys: Set<String>
    /// When it was published; nil: now (a new publication).
    public var publishedAt: Date?

    public init(
        pipeline: String?, channel: String, asset: String?, fingerprints: Set<String>, records: Set<String>,
        subjects: Set<String>, keys: Set<String>, publishedAt: Date?
    ) {
        self.pipeline = pipeline
        self.channel = channel
        self.asset = asset
        self.fingerprints = fingerprints
        self.records = records
        self.subjects = subjects
        self.keys = keys
        self.publishedAt = publishedAt
    }
}

/// `consentgate.takedown/v1` (role `takedown`): publications matching `select` are withdrawn everywhere and kept
/// from publication until a signed lift names this takedown.
public struct Takedown: Sendable, Equatable {
    public static let type = "consentgate.takedown/v1"
    public var id: String
    public var select: TakedownSelectors
    /// Why (for the incident's record; never a patient's name).
    public var reason: String
    public var recordedBy: String?
    public var recordedAt: Date?

    public init(
        id: String, select: TakedownSelectors, reason: String, recordedBy: String? = nil, recordedAt: Date? = nil
    ) {
        self.id = id
        self.select = select
        self.reason = reason
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
    }

    /// Whether it selects `target`. `chain` gives a record id's folded `supersedes` chain. Unknown facts select
    /// (fail closed): a target whose pipeline is not known matches any pipeline selector.
    public func selects(_ target: TakedownTarget, now: Date, chain: (String) -> [String]) -> Bool {
        let s = select
        if !s.records.isEmpty {
            let wanted = Set(s.records.flatMap { chain($0) })
            guard !wanted.isDisjoint(with: target.records) else { return false }
        }
        if !s.subjects.isEmpty, Set(s.subjects.map { $0.lowercased() }).isDisjoint(with: target.subjects) {
            return false
        }
        if !s.keys.isEmpty, Set(s.keys).isDisjoint(with: target.keys) { return false }
        if !s.fingerprints.isEmpty, Set(s.fingerprints).isDisjoint(with: target.fingerprints) { return false }
        if !s.assets.isEmpty {
            guard let asset = target.asset, s.assets.contains(asset) else { return false }
        }
        if !s.channels.isEmpty, !s.channels.contains(target.channel) { return false }
        if !s.pipelines.isEmpty, let pipeline = target.pipeline, !s.pipelines.contains(pipeline) { return false }
        let when = target.publishedAt ?? now
        if let from = s.publishedFrom, when < from { return false }
        if let to = s.publishedTo, when > to { return false }
        return true
    }
}

/// `consentgate.takedown-lift/v1` (role `takedown`): ends the takedown it names.
public struct TakedownLift: Sendable, Equatable {
    public static let type = "consentgate.takedown-lift/v1"
    public var id: String
    public var takedown: String
    public var reason: String?
    public var recordedBy: String?
    public var recordedAt: Date?

    public init(id: String, takedown: String, reason: String? = nil, recordedBy: String? = nil, recordedAt: Date? = nil)
    {
        self.id = id
        self.takedown = takedown
        self.reason = reason
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
    }
}

extension RecordParser {
    static let takedownFields: Set<String> = ["type", "id", "select", "reason", "recorded_by", "recorded_at"]
    static let selectFields: Set<String> = [
        "records", "subjects", "keys", "fingerprints", "assets", "channels", "pipelines", "published_between", "all",
    ]
    static let liftFields: Set<String> = ["type", "id", "takedown", "reason", "recorded_by", "recorded_at"]

    static func timestamp(_ reader: ObjectReader, _ name: String) throws(RecordError) -> Date? {
        guard let text = try reader.optionalString(name) else { return nil }
        guard let date = Timestamp.parse(text) else {
            throw RecordError(reason: "\"\(name)\" must be an RFC 3339 timestamp")
        }
        return date
    }

    static func takedown(_ reader: inout ObjectReader) throws(RecordError) -> Takedown {
        try reader.refuseUnknown(takedownFields)
        let id = try reader.id("id")
        guard let value = reader.optional("select") else {
            throw RecordError(reason: "missing required field \"select\" in the record")
        }
        let object = try ObjectReader(value, place: "select")
        try object.refuseUnknown(selectFields)
        func list(_ name: String) throws(RecordError) -> [String] {
            object.optional(name) == nil ? [] : try object.stringList(name)
        }
        var select = TakedownSelectors()
        select.records = try list("records")
        select.subjects = try list("subjects")
        select.keys = try list("keys")
        select.fingerprints = try list("fingerprints")
        select.assets = try list("assets")
        select.channels = try list("channels")
        select.pipelines = try list("pipelines")
        if object.optional("published_between") != nil {
            let period = try object.array("published_between")
            guard period.count == 2, case .string(let fromText) = period[0], case .string(let toText) = period[1],
                let from = Timestamp.parse(fromText), let to = Timestamp.parse(toText)
            else {
                throw RecordError(reason: "\"published_between\" must be two RFC 3339 timestamps [from, to]")
            }
            select.publishedFrom = from
            select.publishedTo = to
        }
        switch object.optional("all") {
        case nil: select.all = false
        case .bool(let flag)?: select.all = flag
        default: throw RecordError(reason: "\"all\" in select must be true or false")
        }
        try select.validate()
        return Takedown(
            id: id, select: select, reason: try reader.string("reason"),
            recordedBy: try reader.optionalString("recorded_by"), recordedAt: try timestamp(reader, "recorded_at"))
    }

    static func lift(_ reader: inout ObjectReader) throws(RecordError) -> TakedownLift {
        try reader.refuseUnknown(liftFields)
        return TakedownLift(
            id: try reader.id("id"), takedown: try reader.id("takedown"), reason: try reader.optionalString("reason"),
            recordedBy: try reader.optionalString("recorded_by"), recordedAt: try timestamp(reader, "recorded_at"))
    }
}

extension RecordWriter {
    public static func json(_ t: Takedown) -> [UInt8] {
        let s = t.select
        var select: [(key: String, value: JSONValue)] = []
        func add(_ name: String, _ values: [String]) {
            if !values.isEmpty { select.append((name, .array(values.map(JSONValue.string)))) }
        }
        add("records", s.records)
        add("subjects", s.subjects)
        add("keys", s.keys)
        add("fingerprints", s.fingerprints)
        add("assets", s.assets)
        add("channels", s.channels)
        add("pipelines", s.pipelines)
        if let from = s.publishedFrom, let to = s.publishedTo {
            select.append(
                ("published_between", .array([.string(Timestamp.format(from)), .string(Timestamp.format(to))])))
        }
        if s.all { select.append(("all", .bool(true))) }
        var members: [(key: String, value: JSONValue)] = [
            ("type", .string(Takedown.type)), ("id", .string(t.id)), ("select", .object(select)),
            ("reason", .string(t.reason)),
        ]
        if let by = t.recordedBy { members.append(("recorded_by", .string(by))) }
        if let at = t.recordedAt { members.append(("recorded_at", .string(Timestamp.format(at)))) }
        return Array((JSONWriter.write(.object(members)) + "\n").utf8)
    }

    public static func json(_ l: TakedownLift) -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [
            ("type", .string(TakedownLift.type)), ("id", .string(l.id)), ("takedown", .string(l.takedown)),
        ]
        if let reason = l.reason { members.append(("reason", .string(reason))) }
        if let by = l.recordedBy { members.append(("recorded_by", .string(by))) }
        if let at = l.recordedAt { members.append(("recorded_at", .string(Timestamp.format(at)))) }
        return Array((JSONWriter.write(.object(members)) + "\n").utf8)
    }
}
