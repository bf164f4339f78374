import Crypto
import Dispatch
import Foundation
import Synchronization

/// Every record of an authorizations folder, verified against a trust store.
public struct Registry: Sendable {
    public static let utc = TimeZone(secondsFromGMT: 0)!
    /// Entries scanned inside subfolders of the authorizations folder, and how deep, before the rest is a
    /// global doubt.
    static let maxNestedEntries = 1000
    static let maxNestedDepth = 4
    /// Bytes of invalid entries scanned for ids, in all; past that, the rest are global doubts.
    static let maxDoubtBytes = 256 << 20

    public var authorizations: [String: VerifiedRecord] = [:]
    /// Revocations by the id of the authorization they revoke, folded (`Registry.fold`): ids are compared without
    /// regard to letter case everywhere, so "auth-1" and "AUTH-1" are one id.
    public var revocations: [String: [Revocation]] = [:]
    public var invalid: [InvalidRecord] = []
    /// Takedowns by folded id, and the lifts that end them by the folded id of the takedown (SPEC §5).
    public var takedowns: [String: Takedown] = [:]
    public var lifts: [String: [TakedownLift]] = [:]
    /// Reviews (how many people a picture shows) by the fingerprint they name (RegistryReviews.swift).
    public var reviews: [String: [PeopleReview]] = [:]
    /// The pipeline this registry decides for (set by the pipeline; nil for `check` without one), for takedowns
    /// that select by pipeline.
    public var pipelineName: String?
    /// Things an operator should know that block nothing (a valid revocation of an authorization nobody has).
    public var warnings: [String] = []
    /// Every record file read, with the SHA-256 of its bytes.
    public var sightings: [RecordSighting] = []
    /// The zone whose calendar days records' dates are (SPEC §5); "today" is `CalendarDay(now, in: timeZone)`.
    public var timeZone: TimeZone = Registry.utc
    /// Verified authorization ids by asset fingerprint.
    var byPresented: [String: [String]] = [:]
    /// Assets named by `content_sha256` (definition 1): never approvals, only to say which record to re-record.
    var byOldContent: [String: [String]] = [:]
    var byFile: [String: [String]] = [:]
    /// Ids of authorizations superseded by a verified authorization (folded), and by which.
    var supersededBy: [String: String] = [:]
    /// Each verified authorization's `supersedes` chain (folded ids), itself included (in both directions).
    var chains: [String: [String]] = [:]
    /// Invalid records (indexes into `invalid`) by the folded authorization id they block, after chains.
    var blockers: [String: [Int]] = [:]
    /// Verified authorization ids by their folded spelling.
    var byFolded: [String: String] = [:]
    /// The people in the frame an authorization declares for a picture, by "p:" or "f:", its id and the picture's
    /// `presented_sha256` or `file_sha256` (the largest where it lists the picture twice).
    var peopleInFrame: [String: Int] = [:]

    /// How ids are compared everywhere (records' ids, `supersedes`, a revocation's `authorization`, names in
    /// doubts, the ledger's memory): without regard to letter case, so that a typo in case never escapes a chain
    /// or a revocation.
    public static func fold(_ id: String) -> String { id.lowercased() }

    /// The verified authorization whose id is `id` in any letter case, in its own spelling.
    public func authorizationID(matching id: String) -> String? { byFolded[Registry.fold(id)] }

    public var verifiedCount: Int {
        authorizations.count + revocations.values.reduce(0) { $0 + $1.count } + takedowns.count
            + lifts.values.reduce(0) { $0 + $1.count } + reviews.values.reduce(0) { $0 + $1.count }
    }

    /// Doubts that concern no authorization that can be named: while any is there, nothing new is published.
    public var globalDoubts: [InvalidRecord] { invalid.filter(\.global) }

    /// "Today" in the registry's zone.
    public func today(_ now: Date) -> CalendarDay { CalendarDay(now, in: timeZone) }

    /// The authorizations of `id`'s `supersedes` chain (itself included), both directions, cycles cut; folded ids.
    public func chain(of id: String) -> [String] { chains[Registry.fold(id)] ?? [Registry.fold(id)] }

    /// Revocations of any authorization of `id`'s chain: revoking one record of a chain revokes the whole chain.
    public func revocations(affecting id: String) -> [Revocation] {
        chain(of: id).flatMap { revocations[$0] ?? [] }
    }

    /// Invalid records that block `id` (directly or through its chain).
    public func doubts(blocking id: String) -> [InvalidRecord] {
        (blockers[Registry.fold(id)] ?? []).map { invalid[$0] }
    }

    /// The authorization that supersedes `id`, if a verified one does.
    public func newer(than id: String) -> String? { supersededBy[Registry.fold(id)] }

    /// Adds a revocation the ledger remembers (its file is gone); false when this registry has it already.
    public mutating func addRemembered(_ revocation: Revocation) -> Bool {
        let target = Registry.fold(revocation.authorization)
        if revocations[target]?.contains(where: { $0.id == revocation.id }) == true { return false }
        revocations[target, default: []].append(revocation)
        return true
    }

    /// A registry of nothing: what a pipeline decides with when its records cannot be verified at all (the trust
    /// file is unusable, the authorizations folder cannot be listed). Nothing is approved by it.
    public static func unverifiable(timeZone: TimeZone, because why: String) -> Registry {
        var registry = Registry()
        registry.timeZone = timeZone
        registry.unverifiableBecause = why
        return registry
    }

    /// Why no record can be verified now, for a registry made by `unverifiable`: every decision refuses with it.
    public private(set) var unverifiableBecause: String? = nil

    /// Loads every record of `folder`: `NAME.json` with `NAME.json.minisig`. Every other entry (another name,
    /// a hidden file, an orphan `.minisig`, a subfolder and what it holds, a link, a FIFO, a device) and every
    /// record that does not verify is listed in `invalid`, never fatal and never silent; a folder that cannot be
    /// listed throws.
    ///
    /// - Parameters:
    ///   - timeZone: the zone of records' days (default UTC).
    ///   - firstSeen: when ConsentGate first saw `file` with bytes of this SHA-256 (the pipeline's ledger); a
    ///     nil answer means now. A record signed by a retired key is refused when first seen after the key's
    ///     `valid_until`. Without the function (no history at all: `records verify`, `check` without a
    ///     pipeline) the signature's own time is judged, and the record carries a warning.
    ///   - signatureCache: signatures verified before (the pipeline's ledger); only the others are verified.
    public static func load(
        folder: String, trust: TrustStore, now: Date = Date(), timeZone: TimeZone = Registry.utc,
        firstSeen: (@Sendable (_ file: String, _ sha256: String) -> Date?)? = nil, signatureCache: SignatureCache? = nil
    ) throws(RecordError) -> Registry {
        let folderBytes = Array(folder.utf8)
        let entries: [FolderScan.Entry]
        switch FolderScan.list(folderBytes, relative: [], followLink: true) {
        case .success(let list): entries = list
        case .failure(let failure):
            throw RecordError(reason: "cannot list the authorizations folder \(folder): \(failure.why)")
        }
        var registry = Registry()
        registry.timeZone = timeZone
        // NAME.json (a regular file, a UTF-8 name, not hidden) is a record; its NAME.json.minisig goes with it.
        var recordEntries: [FolderScan.Entry] = []
        var recordNames = Set<[UInt8]>()
        for entry in entries where entry.kind == .regular {
            guard let name = String(validating: entry.name, as: UTF8.self), name.hasSuffix(".json"),
                name.count > 5, !name.hasPrefix(".")
            else { continue }
            recordEntries.append(entry)
            recordNames.insert(entry.name)
        }
        let suffix = Array(".minisig".utf8)
        let others = FolderScan.withoutSignatures(entries).filter { !recordNames.contains($0.name) }
        let toVerify = recordEntries
        let results = Mutex([RecordVerifier.Outcome?](repeating: nil, count: toVerify.count))
        DispatchQueue.concurrentPerform(iterations: toVerify.count) { index in
            let outcome = RecordVerifier.verify(
                folder: folder, entry: toVerify[index], trust: trust, now: now, timeZone: timeZone,
                firstSeen: firstSeen, cache: signatureCache)
            results.withLock { $0[index] = outcome }
        }
        // Doubts: what to scan for ids once every verified authorization is known.
        var doubts: [(record: InvalidRecord, paths: [[UInt8]], names: [[UInt8]], readable: Bool)] = []
        for (index, outcome) in results.withLock({ $0 }).enumerated() {
            guard let outcome else { continue }
            if let sighting = outcome.sighting { registry.sightings.append(sighting) }
            switch outcome.result {
            case .success(let verified):
                if let duplicate = registry.add(verified) {
                    doubts.append((duplicate, [], [], true))
                }
            case .failure(let bad):
                let path = recordEntries[index].path
                doubts.append((bad, [path, path + suffix], [recordEntries[index].name], outcome.readable))
            }
        }
        var remainingNested = maxNestedEntries
        for entry in others {
            doubts += registry.doubts(for: entry, depth: 0, budget: &remainingNested)
        }
        // Lenient scan, one file at a time (memory stays flat), within a budget of bytes.
        let known = Dictionary(
            registry.authorizations.keys.map { ($0.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        var budget = maxDoubtBytes
        for doubt in doubts {
            var record = doubt.record
            var contents: [[UInt8]] = []
            var readable = doubt.readable
            for (index, path) in doubt.paths.enumerated() where readable {
                guard budget > 0 else {
                    readable = false
                    record.reason += "; not scanned for ids (over \(maxDoubtBytes) bytes of invalid entries)"
                    break
                }
                switch FolderScan.read(path, limit: min(DocumentDoubt.readLimit(record), budget)) {
                case .success(let bytes):
                    budget -= bytes.count
                    contents.append(bytes)
                case .failure(let failure):
                    // The entry itself must be scanned; a signature beside it may be absent.
                    if index == 0 || FolderScan.exists(path) {
                        readable = false
                        record.reason += "; cannot be scanned for ids: \(failure.why)"
                    }
                }
            }
            let scan = LenientScan(contents: contents, names: doubt.names, known: known)
            record.blocks = Array(scan.blocks.union(record.blocks)).sorted()
            record.global = record.global || !readable
                || (!scan.concernKnown && !DocumentDoubt.excused(record, contents: contents, readable: readable))
            registry.invalid.append(record)
        }
        registry.finishIndexes()
        return registry
    }

    /// The doubt for an entry that is not a record (and, for a subfolder, for what it holds, bounded).
    func doubts(for entry: FolderScan.Entry, depth: Int, budget: inout Int) -> [(
        record: InvalidRecord, paths: [[UInt8]], names: [[UInt8]], readable: Bool
    )] {
        let file = entry.display
        func doubt(_ why: String, readable: Bool, paths: [[UInt8]] = []) -> (
            record: InvalidRecord, paths: [[UInt8]], names: [[UInt8]], readable: Bool
        ) {
            (
                InvalidRecord(file: file, fileBytes: entry.relative, reason: why, global: !readable), paths,
                [entry.name], readable
            )
        }
        switch entry.kind {
        case .regular:
            let why: String
            if entry.name.first == 0x2E {
                why = "a hidden file in the authorizations folder (records are NAME.json, signed in NAME.json.minisig)"
            } else if String(validating: entry.name, as: UTF8.self) == nil {
                why = "a name that is not UTF-8 (records are NAME.json, signed in NAME.json.minisig)"
            } else if depth > 0 {
                why = "a file in a subfolder (records are read from the authorizations folder itself)"
            } else if entry.name.suffix(8).elementsEqual(Array(".minisig".utf8)) {
                why = "a signature whose record is missing"
            } else {
                why = DocumentDoubt.named(entry.name) ? DocumentDoubt.reason(for: entry.name)
                    : "not a record file (records are NAME.json, signed in NAME.json.minisig)"
            }
            let limit = why.hasPrefix(DocumentDoubt.prefix) ? DocumentDoubt.maxBytes : RecordVerifier.maxRecordBytes
            if entry.size > limit {
                return [
                    doubt(why + "; \(entry.size) bytes, over \(limit): not read", readable: false)
                ]
            }
            // Its signature beside it (if any) is read with it.
            return [doubt(why, readable: true, paths: [entry.path, entry.path + Array(".minisig".utf8)])]
        case .directory:
            guard depth < Registry.maxNestedDepth else {
                return [
                    doubt("a folder nested more than \(Registry.maxNestedDepth) deep: not scanned", readable: false)
                ]
            }
            let list: [FolderScan.Entry]
            switch FolderScan.list(entry.path, relative: entry.relative, followLink: false) {
            case .success(let entries): list = entries
            case .failure(let failure):
                return [doubt("a folder that cannot be listed: \(failure.why)", readable: false)]
            }
            guard !list.isEmpty else {
                return [doubt("an empty folder in the authorizations folder", readable: false)]
            }
            var found: [(record: InvalidRecord, paths: [[UInt8]], names: [[UInt8]], readable: Bool)] = []
            for child in FolderScan.withoutSignatures(list) {
                guard budget > 0 else {
                    found.append(
                        doubt(
                            "a folder with more entries than \(Registry.maxNestedEntries) in subfolders: not all scanned",
                            readable: false))
                    break
                }
                budget -= 1
                found += doubts(for: child, depth: depth + 1, budget: &budget)
            }
            return found
        default:
            return [doubt(entry.kind.words, readable: false)]
        }
    }

    /// Adds a verified record; a second authorization with an id already taken is returned as invalid.
    mutating func add(_ verified: VerifiedRecord) -> InvalidRecord? {
        switch verified.record {
        case .authorization(let authorization):
            let folded = Registry.fold(authorization.id)
            if let first = byFolded[folded] {
                return InvalidRecord(
                    file: verified.file, id: authorization.id,
                    reason: first == authorization.id
                        ? "a second record with id \(authorization.id)"
                        : "a second record with id \(authorization.id) (ids are compared without regard to case: \(first) has it)",
                    blocks: [first])
            }
            byFolded[folded] = authorization.id
            authorizations[authorization.id] = verified
        case .revocation(let revocation):
            revocations[Registry.fold(revocation.authorization), default: []].append(revocation)
        case .takedown(let takedown):
            let folded = Registry.fold(takedown.id)
            if takedowns[folded] != nil {
                return InvalidRecord(
                    file: verified.file, id: takedown.id, reason: "a second takedown with id \(takedown.id)")
            }
            takedowns[folded] = takedown
        case .takedownLift(let lift):
            lifts[Registry.fold(lift.takedown), default: []].append(lift)
        case .review(let review):
            for print in [review.presentedSHA256, review.fileSHA256].compactMap({ $0 }) {
                reviews[print, default: []].append(review)
            }
        }
        return nil
    }

    mutating func finishIndexes() {
        for (id, verified) in authorizations {
            guard case .authorization(let authorization) = verified.record else { continue }
            for asset in authorization.assets {
                if let presented = asset.presentedSHA256 { byPresented[presented, default: []].append(id) }
                if let content = asset.contentSHA256 { byOldContent[content, default: []].append(id) }
                if let file = asset.fileSHA256 { byFile[file, default: []].append(id) }
                if let people = asset.peopleInFrame {
                    let keys = [
                        asset.presentedSHA256.map { "p:\(id)\n\($0)" }, asset.fileSHA256.map { "f:\(id)\n\($0)" },
                    ]
                    for key in keys.compactMap({ $0 }) {
                        peopleInFrame[key] = max(peopleInFrame[key] ?? people, people)
                    }
                }
            }
            if let old = authorization.supersedes.map(Registry.fold) {
                supersededBy[old] = id
                links.insert(Link(id: Registry.fold(id), supersedes: old))
            }
        }
        for key in byPresented.keys { byPresented[key] = Array(Set(byPresented[key]!)).sorted() }
        for key in byOldContent.keys { byOldContent[key] = Array(Set(byOldContent[key]!)).sorted() }
        for key in byFile.keys { byFile[key] = Array(Set(byFile[key]!)).sorted() }
        invalid.sort { ($0.file, $0.reason) < ($1.file, $1.reason) }
        buildChains()
        let linked = Set(links.flatMap { [$0.id, $0.supersedes] })
        for (target, list) in revocations.sorted(by: { $0.key < $1.key })
        where byFolded[target] == nil && !linked.contains(target) {
            for revocation in list {
                warnings.append(
                    "revocation \(revocation.id) names authorization \(revocation.authorization), which no valid record has")
            }
        }
    }

    /// Links of the verified authorizations and those the ledger remembers of records whose files are gone.
    public private(set) var links: Set<Link> = []

    /// Adds links the ledger remembers (an old member of a chain whose file was tidied away still joins the chain:
    /// revoking any member revokes the whole chain).
    public mutating func addRemembered(links remembered: [Link]) {
        let before = links.count
        links.formUnion(remembered)
        if links.count != before { buildChains() }
    }
}
