import ArgumentParser
import Foundation
import Pipeline

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Back up and restore a pipeline's ledger; set up a shared PostgreSQL ledger or move a SQLite one there.",
        subcommands: [Backup.self, Restore.self, Init.self, Migrate.self])

    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A verified copy of a pipeline's SQLite ledger and its head, taken while runs go on.",
            discussion: """
                consentgate ledger backup --pipeline /etc/consentgate/website.yml --to /backup/ledger-2026-12-07.sqlite

                Writes FILE and FILE.head (mode 0600) through SQLite's online backup, then verifies the copy's hash \
                chain before it says done. Never replaces a file. Take one every night (after the cron run) and keep \
                several: losing the ledger withdraws everything published. Exit status: 0 written and verified; \
                1 the ledger's chain is broken (nothing written); 2 usage error; 3 cannot write.
                """)
        @Option(help: "The pipeline file.") var pipeline: String
        @Option(help: "The backup file to write (a new file; FILE.head is written beside it).") var to: String

        func run() throws {
            do throws(PipelineError) {
                let config = try PipelineConfig.load(path: pipeline)
                let count = try LedgerMaintenance.backup(config, to: to)
                print("backed up \(count) events to \(to) (and \(to).head); the copy's chain is intact")
            } catch {
                Output.error("ledger backup: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a verified backup in place of a pipeline's SQLite ledger (the current one is kept aside).",
            discussion: """
                consentgate ledger restore --pipeline /etc/consentgate/website.yml --from /backup/ledger-2026-12-07.sqlite

                Stop the pipeline's watcher and timer first (it refuses while a run holds the pipeline's lock). The \
                backup's chain is verified against its head; the ledger that is there (if any) is renamed \
                LEDGER.before-restore-TIME, never removed. Events after the backup are not in it: the next run \
                withdraws what was published since (it cannot be shown to be a publication). Exit status: 0 \
                restored; 1 the backup does not verify; 2 usage error; 3 cannot write or a run is going on.
                """)
        @Option(help: "The pipeline file.") var pipeline: String
        @Option(help: "The backup file (FILE.head must be beside it).") var from: String

        func run() throws {
            do throws(PipelineError) {
                let config = try PipelineConfig.load(path: pipeline)
                let (count, kept) = try LedgerMaintenance.restore(config, from: from)
                print("restored \(count) events into \(config.ledger); the chain is intact")
                if let kept { print("the ledger that was there is kept as \(kept)") }
            } catch {
                Output.error("ledger restore: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the ledger's schema and grant the pipelines' role only what it needs.",
            discussion: """
                consentgate ledger init --url postgresql://postgres@db.example:5432/consentgate?sslmode=verify-full \
                --role consentgate

                Run as an administrator of the database (the password from PGPASSWORD or ~/.pgpass, never the \
                URL). ROLE may SELECT and INSERT events, never UPDATE, DELETE or TRUNCATE them; claims, leases and \
                observations live in tables without history. Running it again changes nothing that is there. \
                Exit status: 0 done; 2 usage error; 3 the database refused or cannot be reached.
                """)
        @Option(help: "The administrator's postgresql:// URL.") var url: String
        @Option(help: "The role the pipelines connect as (created, without a password, if missing).") var role: String

        func run() throws {
            do throws(PipelineError) {
                let admin = try PostgresURL.parse(url, key: "--url", environment: ProcessInfo.processInfo.environment)
                #if PostgreSQL
                    for line in try PostgresSchema.initialize(admin: admin, role: role) { print(line) }
                #else
                    _ = admin
                    throw PostgresSupport.missing("ledger init")
                #endif
            } catch {
                Output.error("ledger init: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a pipeline's SQLite ledger into a new PostgreSQL ledger, chain intact, and verify it.",
            discussion: """
                consentgate ledger migrate --pipeline Pipelines/website.yml \
                --to postgresql://consentgate@db.example:5432/consentgate?sslmode=verify-full

                Stop the pipeline's cron job and watcher first. The target must have been made by ledger init and \
                hold no events yet. Every event is copied as it is (numbers, times, hashes), the copy's chain is \
                verified, and the line to put in the pipeline's YAML is printed; the SQLite file is left as it was. \
                Exit status: 0 copied and verified; 1 the SQLite chain is broken; 2 usage error; 3 database error.
                """)
        @Option(help: "The pipeline file whose SQLite ledger is copied.") var pipeline: String
        @Option(help: "The postgresql:// URL of the new ledger (as the pipelines' role).") var to: String

        func run() throws {
            do {
                let environment = ProcessInfo.processInfo.environment
                let config = try PipelineConfig.load(path: pipeline, environment: environment)
                guard config.postgres == nil else {
                    throw PipelineError("\(pipeline): its ledger is already PostgreSQL (\(config.ledger))")
                }
                let url = try PostgresURL.parse(to, key: "--to", environment: environment)
                let sqlite = try Ledger(path: config.ledger, create: false)
                #if PostgreSQL
                    let target = try PostgresLedger(
                        url: url, hostID: config.hostID, leaseSeconds: config.claimLeaseSeconds)
                    defer { target.disconnect() }
                    let count = try PostgresSchema.migrate(from: sqlite, to: target)
                    print("copied \(count) events from \(config.ledger); the copy's chain is intact")
                    print("in \(pipeline), replace")
                    print("  ledger: \(config.ledger)")
                    print("with")
                    print("  ledger: \(url)")
                    print(
                        "(the password goes in PGPASSWORD or ~/.pgpass, never in the YAML); keep the SQLite file as a backup"
                    )
                #else
                    _ = (sqlite, url)
                    throw PostgresSupport.missing("ledger migrate")
                #endif
            } catch let error as PipelineError {
                Output.error("ledger migrate: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }
}
