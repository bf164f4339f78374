import ByteKit
import Foundation
import MediaFormats

/// Where a pipeline's history lives: the embedded SQLite ledger (`Ledger`, one host, the default) or a PostgreSQL
/// database shared by several hosts (`PostgresLedger`). Both keep the same hash-chained events, so publications,
/// pending quarantines and first-seen record times (all replayed from events) mean the same on either.
public protocol LedgerStore: AnyObject, Sendable {
    /// Records several events in ONE transaction, chained in the order given: all of them or none.
    @discardableResult
    func append(batch: [NewLedgerEvent]) throws(PipelineError) -> [LedgerEvent]
    /// The events a typed query selects, oldest first.
    func events(_ query: EventQuery) throws(PipelineError) -> [LedgerEvent]
    /// Settling and delivery failures (not chained: a cache whose loss only makes a file wait one more look).
    func observation(_ entry: String) throws(PipelineError) -> Ledger.Observation?
    /// Records (or, with nil, forgets) an observation.
    func observe(_ entry: String, _ observation: Ledger.Observation?) throws(PipelineError)
    /// Recomputes the chain and compares its end with the recorded head, and the state tables with the state the
    /// events imply. Returns the problems (empty: intact). Reads every event: `audit verify`, not every run.
    func verifyChain() throws(PipelineError) -> [String]
    /// A run's check, without reading every event: the newest event is the one the head records and no event
    /// before it is missing (their number is the head's). Problems here make the run `distrustState()`.
    func quickCheck() throws(PipelineError) -> [String]
    /// From now on this connection answers from the events alone (a replay), not from the state tables.
    func distrustState()
    /// Every live publication by published name: the kept table, or (state distrusted) the replay of the events.
    func livePublications() throws(PipelineError) -> [String: Ledger.Publication]
    /// The live publications of a pipeline whose picture has this content fingerprint (normally one at most).
    func livePublications(pipeline: String, contentSHA256: String) throws(PipelineError) -> [Ledger.Publication]
    /// Whether this connection answers from the state tables (false: from the events; see `distrustState`).
    var readsState: Bool { get }
    /// From the kept table (`readsState`): those of `names` that are live publications, by name.
    func keptLivePublications(named names: [String]) throws(PipelineError) -> [String: Ledger.Publication]
    /// From the kept table (`readsState`): a page of a pipeline's live publications, by name, after `name`.
    func keptLivePublications(pipeline: String, after name: String?, limit: Int) throws(PipelineError)
        -> [Ledger.Publication]
    /// From the kept table (`readsState`): the live publication of an asset, if any.
    func keptLivePublication(asset: String) throws(PipelineError) -> Ledger.Publication?
    /// From the kept table (`readsState`): a page of a pipeline's live publications' names only, after `name`.
    func keptLiveNames(pipeline: String, after name: String?, limit: Int) throws(PipelineError) -> [String]
    /// From the kept table (`readsState`): the content fingerprints of a pipeline's live publications.
    func keptLiveContents(pipeline: String) throws(PipelineError) -> Set<String>
    /// A pipeline's assets whose latest decision is a pending quarantine (before the age limit), by asset: the
    /// decisions table, or (state distrusted) the replay of the events.
    func pendingQuarantines(pipeline: String) throws(PipelineError) -> [PendingState.Row]
    /// When each record file (by the SHA-256 of its bytes) was first seen: the kept table, or (state distrusted)
    /// the replay of the `record_seen` events.
    func recordsFirstSeen() throws(PipelineError) -> [String: Date]
    /// The record signatures verified before under the trust file with this SHA-256 (`SignatureCache`).
    func verifiedSignatures(trustSHA256: String) throws(PipelineError) -> Set<String>
    /// Remembers signatures verified now, and forgets those verified under any other trust file.
    func rememberVerifiedSignatures(_ entries: [String], trustSHA256: String) throws(PipelineError)
    /// Ends the connection (PostgreSQL); nothing for SQLite. Nothing may be called after it.
    func disconnect()
    /// The sequence number of the newest `record_seen` event (0: none), or nil where this ledger cannot say it
    /// cheaply: what the ledger remembers of records changes only with such an event (issue 28, `RunRegistry`).
    func lastRecordSeenSeq() throws(PipelineError) -> Int64?
}

extension LedgerStore {
    public func lastRecordSeenSeq() throws(PipelineError) -> Int64? { nil }

    /// From whole rows, where a backend has no query of its own for them.
    public func keptLiveNames(pipeline: String, after name: String?, limit: Int) throws(PipelineError) -> [String] {
        try keptLivePublications(pipeline: pipeline, after: name, limit: limit).map(\.name)
    }

    public func keptLiveContents(pipeline: String) throws(PipelineError) -> Set<String> {
        var contents = Set<String>()
        var after: String? = nil
        while true {
            let page = try keptLivePublications(pipeline: pipeline, after: after, limit: LiveLookup.batch)
            for publication in page { if let content = publication.contentSHA256 { contents.insert(content) } }
            guard page.count == LiveLookup.batch, let last = page.last else { return contents }
            after = last.name
        }
    }
}

/// Which events to read: every condition given must hold (nil: any).
public struct EventQuery: Sendable, Equatable {
    public var pipeline: String?
    public var asset: String?
    public var kinds: [EventKind]?
    /// Text the event's JSON detail must contain, case-sensitively.
    public var detailContains: String?

    public init(pipeline: String? = nil, asset: String? = nil, kinds: [EventKind]? = nil, detailContains: String? = nil)
    {
        self.pipeline = pipeline
        self.asset = asset
        self.kinds = kinds
        self.detailContains = detailContains
    }

    /// Every event.
    public static let all = EventQuery()

    /// Whether an event matches (the backends' SQL says the same; tests compare the two).
    public func matches(_ event: LedgerEvent) -> Bool {
        (pipeline == nil || event.pipeline == pipeline) && (asset == nil || event.asset == asset)
            && (kinds == nil || kinds!.contains { $0.rawValue == event.kind })
            && (detailContains == nil || event.detail.contains(detailContains!))
    }
}

/// An event to append: its detail is already JSON text (sorted keys), so it can cross threads.
public struct NewLedgerEvent: Sendable, Equatable {
    public var pipeline: String
    public var kind: EventKind
    public var asset: String?
    public var fileSHA256: String?
    public var contentSHA256: String?
    public var detail: String

    /// `detail`: reasons, records, published name; never a person's name.
    public init(
        pipeline: String, kind: EventKind, asset: String?, fileSHA256: String?, contentSHA256: String?,
        detail: [String: Any]
    ) throws(PipelineError) {
        do {
            self.detail = String(
                decoding: try JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys]), as: UTF8.self)
        } catch { throw PipelineError("ledger: detail is not JSON: \(error)", stage: .ledger) }
        self.pipeline = pipeline
        self.kind = kind
        self.asset = asset
        self.fileSHA256 = fileSHA256
        self.contentSHA256 = contentSHA256
    }

    /// The stored event that follows `prev` (seq and hash) at time `at`.
    func chained(seq: Int64, prev: String, at: String) -> LedgerEvent {
        let hash = LedgerEvent.chainHash(
            prev: prev, seq: seq, at: at, pipeline: pipeline, kind: kind.rawValue, asset: asset, file: fileSHA256,
            content: contentSHA256, detail: detail)
        return LedgerEvent(
            seq: seq, at: at, pipeline: pipeline, kind: kind.rawValue, asset: asset, fileSHA256: fileSHA256,
            contentSHA256: contentSHA256, detail: detail, prevHash: prev, hash: hash)
    }
}

extension LedgerStore {
    /// Appends one event in its own transaction.
    @discardableResult
    public func append(
        pipeline: String, kind: EventKind, asset: String?, fileSHA256: String?, contentSHA256: String?,
        detail: [String: Any]
    ) throws(PipelineError) -> LedgerEvent {
        let event = try NewLedgerEvent(
            pipeline: pipeline, kind: kind, asset: asset, fileSHA256: fileSHA256, contentSHA256: contentSHA256,
            detail: detail)
        guard let stored = try append(batch: [event]).first else {
            throw PipelineError("ledger: the append recorded nothing", exitCode: 3, stage: .ledger)
        }
        return stored
    }

    /// Every event, oldest first.
    public func events() throws(PipelineError) -> [LedgerEvent] { try events(.all) }

    /// The last event of a kind for an asset, if any.
    public func lastEvent(asset: String, kinds: [EventKind]) throws(PipelineError) -> LedgerEvent? {
        try events(EventQuery(asset: asset, kinds: kinds)).last
    }

    /// Every live publication (published and not retracted since), by published file name, replayed from the
    /// hash-chained events of every pipeline: a deleted or edited event breaks the chain. Renaming a pipeline changes
    /// nothing here. Reads every publication event: `audit verify` and a run whose ledger fails its quick check.
    public func replayedLivePublications() throws(PipelineError) -> [String: Ledger.Publication] {
        LiveState.replay(try events(EventQuery(kinds: [.published, .released, .retracted])))
    }

    /// The decisions behind pending quarantines, replayed from the events of every pipeline (`PendingState`).
    public func replayedDecisions() throws(PipelineError) -> [String: PendingState.Row] {
        PendingState.replay(try events(EventQuery(kinds: QuarantineState.kinds)))
    }

    /// When each record file (by the SHA-256 of its bytes) was first seen, replayed from the `record_seen` events
    /// (the time as the event records it).
    public func replayedRecordsSeen() throws(PipelineError) -> [String: String] {
        SeenState.replay(try events(EventQuery(kinds: [.recordSeen])))
    }
}

/// The chain check both backends share: `head` is the newest event's number and hash as recorded apart from the
/// events (SQLite: `LEDGER.head`; PostgreSQL: the `head` row), nil where none was recorded.
enum ChainCheck {
    static func problems(_ all: [LedgerEvent], head: (seq: Int64, hash: String)?, headName: String) -> [String] {
        var problems: [String] = []
        var prev = Ledger.genesis
        var expectedSeq: Int64 = 1
        if let head {
            if let last = all.last, last.seq >= head.seq {
                if let event = all.first(where: { $0.seq == head.seq }), event.hash != head.hash {
                    problems.append("event \(head.seq) is not the one \(headName) recorded")
                }
            } else {
                problems.append(
                    "the newest \(head.seq - (all.last?.seq ?? 0)) event(s) are missing: \(headName) records event "
                        + "\(head.seq), the ledger ends at \(all.last?.seq ?? 0)")
            }
        }
        for event in all {
            if event.seq != expectedSeq { problems.append("event \(expectedSeq) is missing (next is \(event.seq))") }
            if event.prevHash != prev { problems.append("event \(event.seq) does not follow the event before it") }
            let hash = LedgerEvent.chainHash(
                prev: event.prevHash, seq: event.seq, at: event.at, pipeline: event.pipeline, kind: event.kind,
                asset: event.asset, file: event.fileSHA256, content: event.contentSHA256, detail: event.detail)
            if hash != event.hash { problems.append("event \(event.seq) was edited (its hash does not match)") }
            prev = event.hash
            expectedSeq = event.seq + 1
        }
        return problems
    }
}

/// Opening the ledger a pipeline names.
public enum LedgerStores {
    /// Opens the pipeline's ledger: the SQLite file (created unless `create` is false: then a missing one is an
    /// error), or a connection to its PostgreSQL database (whose schema `consentgate ledger init` made).
    public static func open(_ config: PipelineConfig, create: Bool = true) throws(PipelineError) -> any LedgerStore {
        if let url = config.postgres {
            #if PostgreSQL
                return try PostgresLedger(url: url, hostID: config.hostID, leaseSeconds: config.claimLeaseSeconds)
            #else
                _ = url
                throw PostgresSupport.missing(config.file)
            #endif
        }
        return try Ledger(path: config.ledger, create: create)
    }

    /// The ledger, where there is one to read (a SQLite file that does not exist yet is none; PostgreSQL always is).
    public static func openIfPresent(_ config: PipelineConfig) throws(PipelineError) -> (any LedgerStore)? {
        if config.postgres == nil, try !Ledger.exists(config.ledger) { return nil }
        return try open(config, create: false)
    }
}

/// Whether this build has the PostgreSQL ledger (the `PostgreSQL` package trait).
public enum PostgresSupport {
    #if PostgreSQL
        public static let built = true
    #else
        public static let built = false
    #endif

    /// The error of a build without it, for a pipeline (or command) that names a PostgreSQL ledger.
    public static func missing(_ what: String) -> PipelineError {
        PipelineError(
            "\(what): this consentgate was built without the PostgreSQL ledger; build it with "
                + "`swift build --traits PostgreSQL` (the Debian package and CI do)", exitCode: 2)
    }
}
