#if PostgreSQL
import Foundation
import PostgresNIO

/// `consentgate ledger init` and `ledger migrate`: the schema of a shared ledger, the runtime role's rights, and
/// moving a SQLite ledger into it with its chain intact.
public enum PostgresSchema {
    /// The schema, as the administrator makes it. The events table is append-only twice over: the runtime role is
    /// granted only SELECT and INSERT on it, and triggers refuse UPDATE, DELETE and TRUNCATE to everyone (a
    /// superuser can drop them, but not without breaking the hash chain or the head, which `audit verify` finds).
    static let statements: [String] = [
        "CREATE SCHEMA IF NOT EXISTS consentgate",
        """
        CREATE TABLE IF NOT EXISTS consentgate.events (
          seq BIGINT PRIMARY KEY, at TEXT NOT NULL, pipeline TEXT NOT NULL, kind TEXT NOT NULL, asset TEXT,
          file_sha256 TEXT, content_sha256 TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS events_asset ON consentgate.events (asset)",
        "CREATE INDEX IF NOT EXISTS events_kind ON consentgate.events (kind)",
        """
        CREATE TABLE IF NOT EXISTS consentgate.head (
          id INT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)
        """,
        "INSERT INTO consentgate.head (id, seq, hash) VALUES (1, 0, '\(Ledger.genesis)') ON CONFLICT (id) DO NOTHING",
        """
        CREATE TABLE IF NOT EXISTS consentgate.observations (
          entry TEXT PRIMARY KEY, size BIGINT NOT NULL, mtime TEXT NOT NULL, first_seen DOUBLE PRECISION NOT NULL,
          failures INT NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE IF NOT EXISTS consentgate.claims (
          asset TEXT PRIMARY KEY, pipeline TEXT NOT NULL, entry TEXT NOT NULL, host TEXT NOT NULL,
          lease_until TIMESTAMPTZ NOT NULL, claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(), UNIQUE (pipeline, entry))
        """,
        """
        CREATE OR REPLACE FUNCTION consentgate.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'consentgate.events is append-only: its history cannot be changed'; END $$
        """,
        "DROP TRIGGER IF EXISTS events_append_only ON consentgate.events",
        """
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON consentgate.events
        FOR EACH ROW EXECUTE FUNCTION consentgate.refuse_change()
        """,
        "DROP TRIGGER IF EXISTS events_no_truncate ON consentgate.events",
        """
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON consentgate.events
        FOR EACH STATEMENT EXECUTE FUNCTION consentgate.refuse_change()
        """,
        "REVOKE ALL ON SCHEMA consentgate FROM PUBLIC",
        "REVOKE ALL ON ALL TABLES IN SCHEMA consentgate FROM PUBLIC",
    ]

    /// The grants for the role the pipelines connect as: history is read and added to, never changed.
    static func grants(_ role: String) -> [String] {
        let role = quoted(role)
        return [
            "REVOKE ALL ON ALL TABLES IN SCHEMA consentgate FROM \(role)",
            "GRANT USAGE ON SCHEMA consentgate TO \(role)",
            "GRANT SELECT, INSERT ON consentgate.events TO \(role)",
            "GRANT SELECT, UPDATE ON consentgate.head TO \(role)",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON consentgate.observations, consentgate.claims TO \(role)",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON consentgate.live_publications, consentgate.decisions, "
                + "consentgate.records_seen, consentgate.verified_signatures TO \(role)",
            "GRANT SELECT ON consentgate.state_version TO \(role)",
        ]
    }

    /// An SQL identifier, quoted.
    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// Creates (or brings up to date) the schema as the administrator `admin`, creates `role` if it does not exist
    /// (LOGIN, no password: the administrator sets one), and grants it its rights. Returns what was done, in words.
    public static func initialize(admin: PostgresURL, role: String) throws(PipelineError) -> [String] {
        guard !role.isEmpty, role.count <= 63 else { throw PipelineError("--role must be a role name") }
        let bridge = try PostgresBridge(url: admin)
        defer { bridge.close() }
        var done: [String] = []
        do {
            try bridge.transaction { run in
                let exists = try run("SELECT 1 FROM pg_roles WHERE rolname = \(role)")
                if exists.isEmpty {
                    _ = try run(PostgresQuery(unsafeSQL: "CREATE ROLE \(quoted(role)) LOGIN"))
                    done.append(
                        "created role \(role) (LOGIN, no password yet: ALTER ROLE \(quoted(role)) PASSWORD '...', "
                            + "or a client certificate, as your site does)")
                }
                for statement in statements + PostgresLedger.stateStatements + grants(role) {
                    _ = try run(PostgresQuery(unsafeSQL: statement))
                }
                if try PostgresLedger.fillState(run) {
                    done.append("state tables (live publications) made from the events (schema version \(Ledger.stateVersion))")
                }
            }
        } catch {
            throw PipelineError(
                "ledger init \(admin): \(PostgresBridge.describe(error)) (nothing was changed)", exitCode: 3,
                stage: .ledger)
        }
        done.append(
            "schema consentgate ready in \(admin.database): events (append-only), head, observations, claims, "
                + "live_publications (state kept with the events)")
        done.append(
            "role \(role) may SELECT and INSERT events (never UPDATE, DELETE or TRUNCATE), update the head, and change "
                + "observations and claims")
        return done
    }

    /// Copies the pipeline's SQLite ledger into an empty PostgreSQL ledger, events exactly as they are, then
    /// verifies the copy's chain. Returns the number of events copied. Refuses a target that already has events.
    public static func migrate(from sqlite: Ledger, to target: PostgresLedger) throws(PipelineError) -> Int {
        let problems = try sqlite.verifyChain()
        guard problems.isEmpty else {
            throw PipelineError(
                "the SQLite ledger's chain is broken (\(problems.joined(separator: "; "))): not migrated; "
                    + "consentgate audit verify says more", exitCode: 1)
        }
        guard try target.events(EventQuery(kinds: nil)).isEmpty else {
            throw PipelineError(
                "the PostgreSQL ledger already has events: migrate only into a new one (consentgate ledger init)",
                exitCode: 2)
        }
        let events = try sqlite.events()
        try target.copy(events)
        try target.copyObservations(try sqlite.allObservations())
        let after = try target.verifyChain()
        guard after.isEmpty else {
            throw PipelineError(
                "the copy's chain does not verify (\(after.joined(separator: "; "))); keep using the SQLite ledger",
                exitCode: 3, stage: .ledger)
        }
        return events.count
    }
}
#endif
