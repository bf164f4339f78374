import ArgumentParser
import Foundation
import Pipeline

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Set up a shared PostgreSQL ledger for several hosts, or move a SQLite ledger into one.",
        subcommands: [Init.self, Migrate.self])

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
            do {
                let admin = try PostgresURL.parse(url, key: "--url", environment: ProcessInfo.processInfo.environment)
                for line in try PostgresSchema.initialize(admin: admin, role: role) { print(line) }
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
                let target = try PostgresLedger(url: url, hostID: config.hostID, leaseSeconds: config.claimLeaseSeconds)
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
            } catch let error as PipelineError {
                Output.error("ledger migrate: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
    }
}
