#if PostgreSQL
import Dispatch
import Foundation
import PostgresNIO
import Synchronization

/// The shared ledger in PostgreSQL (schema `consentgate`, made by `consentgate ledger init`): the same hash-chained
/// events as the SQLite ledger, a `head` row instead of `LEDGER.head`, observations, and the hosts' claims. Appends
/// from several hosts are ordered by a row lock on the head, so the chain stays one chain.
public final class PostgresLedger: LedgerStore {
    let bridge: PostgresBridge
    public let hostID: String
    public let leaseSeconds: Double
    /// Assets this run has claimed: their leases are renewed while it is alive.
    let held = Mutex(Set<String>())
    /// Set by `close`: the lease renewals stop.
    let stopped = Mutex(false)
    let renewals = DispatchQueue(label: "consentgate.lease")
    /// Whether the schema keeps the state tables (`ledger init` of this version made them), and whether this
    /// connection reads them (false: everything is replayed from the events; see `distrustState`).
    let stateKept: Bool
    let stateTrusted: Mutex<Bool>

    /// Connects and checks that the schema is there. `hostID` and `leaseSeconds` are for claims.
    public init(url: PostgresURL, hostID: String, leaseSeconds: Double) throws(PipelineError) {
        bridge = try PostgresBridge(url: url)
        self.hostID = hostID
        self.leaseSeconds = leaseSeconds
        do { _ = try bridge.query("SELECT seq FROM consentgate.head WHERE id = 1") } catch {
            bridge.close()
            throw PipelineError(
                "ledger \(url): no ConsentGate schema that this role may read (\(PostgresBridge.describe(error))): "
                    + "run consentgate ledger init --url ADMIN_URL --role \(url.user)",
                exitCode: 3, stage: .ledger)
        }
        stateKept = Self.keepsState(bridge)
        stateTrusted = Mutex(stateKept)
        scheduleRenewal()
    }

    /// Every third of the lease, the leases of this run's claims are renewed, so that only a host that died (or
    /// stalled longer than a lease) loses its files to another.
    func scheduleRenewal() {
        renewals.asyncAfter(deadline: .now() + max(0.2, leaseSeconds / 3)) { [weak self] in
            guard let self, !self.stopped.withLock({ $0 }) else { return }
            self.renewLeases()
            self.scheduleRenewal()
        }
    }

    /// Any database failure: the run stops (exit 3) with what the server said.
    func fail(_ what: String, _ error: any Error) -> PipelineError {
        PipelineError(
            "ledger \(bridge.url): cannot \(what): \(PostgresBridge.describe(error))", exitCode: 3, stage: .ledger)
    }

    @discardableResult
    public func append(batch: [NewLedgerEvent]) throws(PipelineError) -> [LedgerEvent] {
        if batch.isEmpty { return [] }
        do {
            return try bridge.transaction { run in
                let head = try run("SELECT seq, hash FROM consentgate.head WHERE id = 1 FOR UPDATE")
                guard let row = head.first?.makeRandomAccess() else {
                    throw PipelineError("the head row is missing", exitCode: 3)
                }
                var seq = try row[0].decode(Int64.self)
                var prev = try row[1].decode(String.self)
                HostTestHooks.reached(.append)
                // After the lock: events of several hosts are stamped in the order they are chained.
                let at = Ledger.timestamp(Date())
                var stored: [LedgerEvent] = []
                for new in batch {
                    seq += 1
                    let event = new.chained(seq: seq, prev: prev, at: at)
                    _ = try run(Self.insert(event))
                    if stateKept { try Self.applyState(event, run) }
                    stored.append(event)
                    prev = event.hash
                }
                _ = try run("UPDATE consentgate.head SET seq = \(seq), hash = \(prev) WHERE id = 1")
                return stored
            }
        } catch { throw fail("append", error) }
    }

    static func insert(_ event: LedgerEvent) -> PostgresQuery {
        """
        INSERT INTO consentgate.events (seq, at, pipeline, kind, asset, file_sha256, content_sha256, detail, prev_hash, hash)
        VALUES (\(event.seq), \(event.at), \(event.pipeline), \(event.kind), \(event.asset), \(event.fileSHA256),
                \(event.contentSHA256), \(event.detail), \(event.prevHash), \(event.hash))
        """
    }

    /// Copies events as they are (seq, times and hashes kept) after the last one, and moves the head: `ledger
    /// migrate`. All or nothing; the chain is verified afterwards, never assumed.
    public func copy(_ events: [LedgerEvent]) throws(PipelineError) {
        guard let newest = events.last else { return }
        do {
            try bridge.transaction { run in
                _ = try run("SELECT seq FROM consentgate.head WHERE id = 1 FOR UPDATE")
                for event in events {
                    _ = try run(Self.insert(event))
                    if stateKept { try Self.applyState(event, run) }
                }
                _ = try run("UPDATE consentgate.head SET seq = \(newest.seq), hash = \(newest.hash) WHERE id = 1")
            }
        } catch { throw fail("copy events", error) }
    }

    public func events(_ query: EventQuery) throws(PipelineError) -> [LedgerEvent] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let pipeline = query.pipeline {
            binds.append(pipeline)
            conditions.append("pipeline = $\(binds.count)")
        }
        if let asset = query.asset {
            binds.append(asset)
            conditions.append("asset = $\(binds.count)")
        }
        if let kinds = query.kinds {
            binds.append(kinds.map(\.rawValue))
            conditions.append("kind = ANY($\(binds.count))")
        }
        if let text = query.detailContains {
            binds.append(text)
            conditions.append("strpos(detail, $\(binds.count)) > 0")
        }
        let condition = conditions.isEmpty ? "TRUE" : conditions.joined(separator: " AND ")
        let sql = """
            SELECT seq, at, pipeline, kind, asset, file_sha256, content_sha256, detail, prev_hash, hash
            FROM consentgate.events WHERE \(condition) ORDER BY seq
            """
        do {
            return try bridge.query(PostgresQuery(unsafeSQL: sql, binds: binds)).map { row in
                let cells = row.makeRandomAccess()
                return LedgerEvent(
                    seq: try cells[0].decode(Int64.self), at: try cells[1].decode(String.self),
                    pipeline: try cells[2].decode(String.self), kind: try cells[3].decode(String.self),
                    asset: try cells[4].decode(String?.self), fileSHA256: try cells[5].decode(String?.self),
                    contentSHA256: try cells[6].decode(String?.self), detail: try cells[7].decode(String.self),
                    prevHash: try cells[8].decode(String.self), hash: try cells[9].decode(String.self))
            }
        } catch { throw fail("read events", error) }
    }

    public func observation(_ entry: String) throws(PipelineError) -> Ledger.Observation? {
        do {
            return try bridge.query(
                "SELECT size, mtime, first_seen, failures FROM consentgate.observations WHERE entry = \(entry)"
            ).first.map { row in
                let cells = row.makeRandomAccess()
                return Ledger.Observation(
                    size: try cells[0].decode(Int64.self), mtime: try cells[1].decode(String.self),
                    firstSeen: Date(timeIntervalSince1970: try cells[2].decode(Double.self)),
                    failures: Int(try cells[3].decode(Int32.self)))
            }
        } catch { throw fail("read observations", error) }
    }

    public func observe(_ entry: String, _ observation: Ledger.Observation?) throws(PipelineError) {
        do {
            if let observation {
                _ = try bridge.query(
                    """
                    INSERT INTO consentgate.observations (entry, size, mtime, first_seen, failures)
                    VALUES (\(entry), \(observation.size), \(observation.mtime),
                            \(observation.firstSeen.timeIntervalSince1970), \(Int32(clamping: observation.failures)))
                    ON CONFLICT (entry) DO UPDATE SET size = EXCLUDED.size, mtime = EXCLUDED.mtime,
                      first_seen = EXCLUDED.first_seen, failures = EXCLUDED.failures
                    """)
            } else {
                _ = try bridge.query("DELETE FROM consentgate.observations WHERE entry = \(entry)")
            }
        } catch { throw fail("record an observation", error) }
    }

    /// The chain, and its end against the head row (a head at 0 is a ledger nothing was appended to yet).
    public func verifyChain() throws(PipelineError) -> [String] {
        let head: (seq: Int64, hash: String)?
        do {
            let row = try bridge.query("SELECT seq, hash FROM consentgate.head WHERE id = 1").first
            let seq = try row.map { try $0.makeRandomAccess()[0].decode(Int64.self) } ?? 0
            let hash = try row.map { try $0.makeRandomAccess()[1].decode(String.self) } ?? Ledger.genesis
            head = seq > 0 ? (seq, hash) : nil
        } catch { throw fail("read the head", error) }
        return ChainCheck.problems(try events(), head: head, headName: "the head row") + (try stateProblems())
    }

    public func disconnect() {
        stopped.withLock { $0 = true }
        bridge.close()
    }

    /// Every observation, written as they are (`ledger migrate`).
    public func copyObservations(_ observations: [(entry: String, observation: Ledger.Observation)])
        throws(PipelineError)
    {
        for (entry, observation) in observations { try observe(entry, observation) }
    }
}
#endif
