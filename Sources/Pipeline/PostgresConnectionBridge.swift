#if PostgreSQL
import Foundation
import Logging
import PostgresNIO

/// One PostgreSQL connection used from ConsentGate's synchronous code (Dispatch queues and the main thread, never
/// an event loop nor Swift's cooperative pool): each call blocks on the future of its own event loop thread, so
/// nothing waits on a thread that must run it. One lock orders the callers, so a transaction's statements are never
/// interleaved with another thread's.
final class PostgresBridge: Sendable {
    let group: MultiThreadedEventLoopGroup
    let connection: PostgresConnection
    let lock = NSLock()
    let url: PostgresURL
    static let logger = Logger(label: "consentgate.ledger.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects (10 s at most); any failure is exit 3 with what went wrong, never the password.
    init(url: PostgresURL) throws(PipelineError) {
        self.url = url
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            var configuration: PostgresConnection.Configuration
            if let folder = url.socketFolder {
                configuration = .init(
                    unixSocketPath: folder + "/.s.PGSQL.\(url.port)", username: url.user, password: url.password,
                    database: url.database)
            } else {
                configuration = .init(
                    host: url.host ?? "", port: url.port, username: url.user, password: url.password,
                    database: url.database, tls: try Self.tls(url))
            }
            configuration.options.connectTimeout = .seconds(10)
            connection = try PostgresConnection.connect(
                on: group.next(), configuration: configuration, id: 1, logger: Self.logger
            ).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw PipelineError(
                "ledger \(url): cannot connect: \(Self.describe(error)); nothing was claimed, files wait in the inbox",
                exitCode: 3, stage: .ledger)
        }
        self.group = group
    }

    static func tls(_ url: PostgresURL) throws -> PostgresConnection.Configuration.TLS {
        switch url.sslMode {
        case .disable: return .disable
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return .require(try NIOSSLContext(configuration: configuration))
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let roots = url.rootCertificate { configuration.trustRoots = .file(roots) }
            return .require(try NIOSSLContext(configuration: configuration))
        }
    }

    /// The connection while the lock is held: `run(query)` runs one statement and returns its rows.
    struct Session {
        let connection: PostgresConnection
        func callAsFunction(_ query: PostgresQuery) throws -> [PostgresRow] {
            try connection.query(query, logger: PostgresBridge.logger).wait().rows
        }
    }

    /// Runs statements under the lock.
    func locked<T>(_ body: (Session) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(Session(connection: connection))
    }

    /// One statement.
    func query(_ query: PostgresQuery) throws -> [PostgresRow] { try locked { run in try run(query) } }

    /// Statements in one transaction: committed when `body` returns, rolled back when it throws.
    func transaction<T>(_ body: (Session) throws -> T) throws -> T {
        try locked { run in
            _ = try run("BEGIN")
            do {
                let result = try body(run)
                _ = try run("COMMIT")
                return result
            } catch {
                _ = try? run("ROLLBACK")
                throw error
            }
        }
    }

    func close() {
        lock.lock()
        defer { lock.unlock() }
        try? connection.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// What went wrong, in words: the server's message and SQLSTATE, or the connection's error.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, let message = info[.message] {
            return message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    /// The SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? { (error as? PSQLError)?.serverInfo?[.sqlState] }
}
#endif
