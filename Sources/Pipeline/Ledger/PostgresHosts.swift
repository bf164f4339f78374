import Foundation
#if PostgreSQL
    import PostgresNIO
#endif

/// What several hosts serving one inbox need from a shared ledger: claims that only one host can win, leases that
/// pass to another host when their holder dies, one sweep at a time per pipeline, and one decision at a time per
/// picture (one picture, one publication).
public protocol HostCoordination: Sendable {
    var hostID: String { get }
    var leaseSeconds: Double { get }
    /// Claims an inbox entry (its path and stamp) for `asset`: true when this host won it, false when another
    /// host holds a live claim on it. The claim must be won before the rename.
    func claimEntry(pipeline: String, entry: String, asset: String) throws(PipelineError) -> Bool
    /// Takes an asset already in the work folder or pending in quarantine: true when no other host holds a live
    /// claim on it (a dead host's lease has passed, or this host holds it).
    func takeAsset(pipeline: String, asset: String) throws(PipelineError) -> Bool
    /// Gives up a claim whose rename failed (the file was gone or could not be moved).
    func dropClaim(asset: String) throws(PipelineError)
    /// The pipeline's sweep lease, without waiting: false when another host is sweeping it (its lease is alive).
    /// A lease, not a lock: a host that froze mid-sweep loses it to another after the lease.
    func trySweepLock(pipeline: String) throws(PipelineError) -> Bool
    func releaseSweepLock(pipeline: String)
    /// Before each change a sweep makes: the lease is still this host's (and is extended), or the sweep stops
    /// (exit 3) before it writes: a host that woke up after its lease passed leaves the sweep to the one that took it.
    func confirmSweepLock(pipeline: String) throws(PipelineError)
    /// Before a delivery writes: the asset's claim is still this host's (renewed now), or this host stops (exit 3)
    /// before it writes: a host that woke after its lease passed leaves the file to the host that took it over.
    func confirmClaim(asset: String) throws(PipelineError)
    /// Whether some host holds a live claim on `asset`: a file in publish named after it that the ledger does not
    /// know yet may be that host's delivery in progress (renamed into publish, its event not yet committed).
    func deliveryInFlight(pipeline: String, asset: String) throws(PipelineError) -> Bool
    /// Runs `body` while holding the pipeline's lock on one picture (its content fingerprint), waiting for it.
    func withPictureLock<T>(pipeline: String, content: String, _ body: () throws(PipelineError) -> T)
        throws(PipelineError) -> T
    /// Forgets claims whose lease passed long ago (the files they named are delivered or recovered since).
    func forgetOldClaims(pipeline: String) throws(PipelineError)
}

#if PostgreSQL
extension PostgresLedger: HostCoordination {
    public func claimEntry(pipeline: String, entry: String, asset: String) throws(PipelineError) -> Bool {
        do {
            let won =
                try bridge.query(
                    """
                    INSERT INTO consentgate.claims (asset, pipeline, entry, host, lease_until)
                    VALUES (\(asset), \(pipeline), \(entry), \(hostID), now() + make_interval(secs => \(leaseSeconds)))
                    ON CONFLICT (pipeline, entry) DO UPDATE SET asset = EXCLUDED.asset, host = EXCLUDED.host,
                      lease_until = EXCLUDED.lease_until, claimed_at = now()
                    WHERE consentgate.claims.lease_until < now()
                    RETURNING asset
                    """
                ).isEmpty == false
            if won { held.withLock { _ = $0.insert(asset) } }
            return won
        } catch { throw fail("record a claim", error) }
    }

    public func takeAsset(pipeline: String, asset: String) throws(PipelineError) -> Bool {
        do {
            let won =
                try bridge.query(
                    """
                    INSERT INTO consentgate.claims (asset, pipeline, entry, host, lease_until)
                    VALUES (\(asset), \(pipeline), \("asset:" + asset), \(hostID),
                            now() + make_interval(secs => \(leaseSeconds)))
                    ON CONFLICT (asset) DO UPDATE SET host = EXCLUDED.host, lease_until = EXCLUDED.lease_until,
                      claimed_at = now()
                    WHERE consentgate.claims.lease_until < now() OR consentgate.claims.host = EXCLUDED.host
                    RETURNING asset
                    """
                ).isEmpty == false
            if won { held.withLock { _ = $0.insert(asset) } }
            return won
        } catch {
            // Two hosts inserting the same claim at once: ON CONFLICT arbitrates one unique index, the other one
            // can still refuse the second insert. The other host has it.
            if Self.isUniqueViolation(error) { return false }
            throw fail("record a claim", error)
        }
    }

    /// SQLSTATE 23505: a concurrent insert of the same key won.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        PostgresBridge.sqlState(error) == "23505"
    }

    public func dropClaim(asset: String) throws(PipelineError) {
        held.withLock { _ = $0.remove(asset) }
        do { _ = try bridge.query("DELETE FROM consentgate.claims WHERE asset = \(asset) AND host = \(hostID)") } catch
        {
            throw fail("drop a claim", error)
        }
    }

    /// Renews the leases of this run's claims (called every third of a lease; a failure waits for the next).
    func renewLeases() {
        let assets = Array(held.withLock { $0 })
        if assets.isEmpty { return }
        _ = try? bridge.query(
            """
            UPDATE consentgate.claims SET lease_until = now() + make_interval(secs => \(leaseSeconds))
            WHERE host = \(hostID) AND asset = ANY(\(assets))
            """)
    }

    static func sweepKey(_ pipeline: String) -> String { "sweep:" + pipeline }

    public func trySweepLock(pipeline: String) throws(PipelineError) -> Bool {
        let key = Self.sweepKey(pipeline)
        do {
            let won =
                try bridge.query(
                    """
                    INSERT INTO consentgate.claims (asset, pipeline, entry, host, lease_until)
                    VALUES (\(key), \(pipeline), \(key), \(hostID), now() + make_interval(secs => \(leaseSeconds)))
                    ON CONFLICT (asset) DO UPDATE SET host = EXCLUDED.host, lease_until = EXCLUDED.lease_until,
                      claimed_at = now()
                    WHERE consentgate.claims.lease_until < now() OR consentgate.claims.host = EXCLUDED.host
                    RETURNING asset
                    """
                ).isEmpty == false
            if won { held.withLock { _ = $0.insert(key) } }
            return won
        } catch {
            // Another host took the lease at the same moment (see `takeAsset`).
            if Self.isUniqueViolation(error) { return false }
            throw fail("take the sweep lease", error)
        }
    }

    public func releaseSweepLock(pipeline: String) {
        let key = Self.sweepKey(pipeline)
        held.withLock { _ = $0.remove(key) }
        _ = try? bridge.query("DELETE FROM consentgate.claims WHERE asset = \(key) AND host = \(hostID)")
    }

    public func confirmSweepLock(pipeline: String) throws(PipelineError) {
        let key = Self.sweepKey(pipeline)
        let kept: Bool
        do {
            kept =
                try bridge.query(
                    """
                    UPDATE consentgate.claims SET lease_until = now() + make_interval(secs => \(leaseSeconds))
                    WHERE asset = \(key) AND host = \(hostID) AND lease_until > now() RETURNING asset
                    """
                ).isEmpty == false
        } catch { throw fail("renew the sweep lease", error) }
        if !kept {
            throw PipelineError(
                "this host's sweep lease of \(pipeline) passed (the host was stalled or frozen longer than "
                    + "claim_lease_seconds); it stopped before changing anything more, another host sweeps now",
                exitCode: 3, stage: .sweep)
        }
    }

    public func confirmClaim(asset: String) throws(PipelineError) {
        let kept: Bool
        do {
            kept =
                try bridge.query(
                    """
                    UPDATE consentgate.claims SET lease_until = now() + make_interval(secs => \(leaseSeconds))
                    WHERE asset = \(asset) AND host = \(hostID) RETURNING asset
                    """
                ).isEmpty == false
        } catch { throw fail("renew a claim", error) }
        if !kept {
            throw PipelineError(
                "the claim of \(asset) passed to another host while this one was stalled or frozen: it stopped "
                    + "before delivering it", exitCode: 3, stage: .deliver, asset: asset)
        }
    }

    public func deliveryInFlight(pipeline: String, asset: String) throws(PipelineError) -> Bool {
        do {
            return try bridge.query(
                """
                SELECT 1 FROM consentgate.claims WHERE asset = \(asset) AND pipeline = \(pipeline)
                AND lease_until > now()
                """
            ).isEmpty == false
        } catch { throw fail("read the claims", error) }
    }

    public func withPictureLock<T>(pipeline: String, content: String, _ body: () throws(PipelineError) -> T)
        throws(PipelineError) -> T
    {
        let key = "consentgate.picture:" + pipeline + ":" + content
        let deadline = Date().addingTimeInterval(max(60, leaseSeconds))
        // Polled, so the connection's lock is never held while another host decides.
        while true {
            let taken: Bool
            do {
                taken =
                    try bridge.query("SELECT pg_try_advisory_lock(hashtextextended(\(key), 0))").first?
                    .makeRandomAccess()[0].decode(Bool.self) ?? false
            } catch { throw fail("take a picture lock", error) }
            if taken { break }
            if Date() >= deadline {
                throw PipelineError(
                    "another host has been deciding the same picture for too long; left for the next run", exitCode: 3,
                    stage: .deliver)
            }
            usleep(50_000)
        }
        defer { _ = try? bridge.query("SELECT pg_advisory_unlock(hashtextextended(\(key), 0))") }
        return try body()
    }

    public func forgetOldClaims(pipeline: String) throws(PipelineError) {
        do {
            _ = try bridge.query(
                """
                DELETE FROM consentgate.claims WHERE pipeline = \(pipeline)
                AND lease_until < now() - make_interval(secs => \(leaseSeconds)) - interval '1 day'
                """)
        } catch { throw fail("forget old claims", error) }
    }
}
#endif
