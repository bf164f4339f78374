#if PostgreSQL
import Foundation
import Logging
import PostgresNIO
import Synchronization

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

    /// Set when the connection is lost (the server went away, or a call got no answer in time): every later call
    /// fails at once with this, instead of waiting on a dead connection.
    let lost = Mutex<String?>(nil)

    /// Connects (`connect_timeout`), with TCP keepalive, and bounds the session (`statement_timeout`,
    /// `lock_timeout`, `idle_in_transaction_session_timeout`); any failure is exit 3 with what went wrong, never
    /// the password.
    init(url: PostgresURL) throws(PipelineError) {
        self.url = url
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let timeouts = url.timeouts
        do {
            var configuration: PostgresConnection.Configuration
            if let folder = url.socketFolder {
                configuration = .init(
                    unixSocketPath: folder + "/.s.PGSQL.\(url.port)", username: url.user, password: url.password,
                    database: url.database)
            } else {
                let host = url.host ?? ""
                let channel = try Self.keptAlive(ClientBootstrap(group: group), timeouts)
                    .connect(host: host, port: url.port).wait()
                configuration = .init(
                    establishedChannel: channel, tls: try Self.tls(url), username: url.user, password: url.password,
                    database: url.database)
                // As postgres-nio does for a host it connects itself: SNI and the name check for a name, not an address.
                if !Self.isAddress(host) { configuration.options.tlsServerName = host }
            }
            configuration.options.connectTimeout = .milliseconds(Int64(timeouts.connect * 1000))
            let connected = try Self.wait(
                PostgresConnection.connect(on: group.next(), configuration: configuration, id: 1, logger: Self.logger),
                seconds: timeouts.connect + 1)
            let session: PostgresQuery = """
                SELECT set_config('statement_timeout', \(Self.milliseconds(timeouts.statement)), false),
                       set_config('lock_timeout', \(Self.milliseconds(timeouts.lock)), false),
                       set_config('idle_in_transaction_session_timeout', \(Self.milliseconds(timeouts.idleInTransaction)), false)
                """
            _ = try Self.wait(connected.query(session, logger: Self.logger), seconds: timeouts.clientWait)
            connection = connected
        } catch {
            try? group.syncShutdownGracefully()
            throw PipelineError(
                "ledger \(url): cannot connect: \(Self.describe(error)); nothing was claimed, files wait in the inbox",
                exitCode: 3, stage: .ledger)
        }
        self.group = group
    }

    /// A TCP connection that the kernel probes when idle (`keepalives_idle`, then every 10 s, 3 times) and gives up
    /// when what it sent stays unacknowledged (a peer gone without a word).
    static func keptAlive(_ bootstrap: ClientBootstrap, _ timeouts: PostgresTimeouts) -> ClientBootstrap {
        func tcp(_ name: Int32) -> ChannelOptions.Types.SocketOption {
            ChannelOptions.socket(SocketOptionLevel(IPPROTO_TCP), SocketOptionName(name))
        }
        let idle = SocketOptionValue(max(1, timeouts.keepalivesIdle.rounded(.up)))
        let unacknowledged = SocketOptionValue((timeouts.clientWait * 1000).rounded())
        return bootstrap.connectTimeout(.milliseconds(Int64(timeouts.connect * 1000)))
            .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            .channelOption(tcp(TCP_KEEPIDLE), value: idle)
            .channelOption(tcp(TCP_KEEPINTVL), value: 10)
            .channelOption(tcp(TCP_KEEPCNT), value: 3)
            .channelOption(tcp(TCP_USER_TIMEOUT), value: unacknowledged)
    }

    static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    static func milliseconds(_ seconds: Double) -> String { String(Int((seconds * 1000).rounded())) + "ms" }

    /// The future's value, waiting `seconds` at most: a connection that does not answer in time is dead.
    /// `closed`: the connection's close, which ends the wait at once (a query sent on a connection the server
    /// has just closed may never be answered).
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>, seconds: Double, closed: EventLoopFuture<Void>? = nil)
        throws -> T
    {
        let answer = Answer<T>()
        future.whenComplete { result in answer.set(result) }
        closed?.whenComplete { _ in answer.set(.failure(Closed())) }
        if answer.done.wait(timeout: .now() + seconds) == .timedOut { throw NoAnswer(seconds: seconds) }
        return try answer.get()
    }

    /// Where an event loop leaves a result for the thread that waits on it.
    final class Answer<T: Sendable>: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        let lock = NSLock()
        var result: Result<T, any Error>?
        /// The first result counts.
        func set(_ value: Result<T, any Error>) {
            let first = lock.withLock { () -> Bool in
                if result != nil { return false }
                result = value
                return true
            }
            if first { done.signal() }
        }
        func get() throws -> T { try lock.withLock { result! }.get() }
    }

    /// The connection was closed (by the server, or under it).
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the connection was closed" }
    }

    /// No answer from the server within the bound.
    struct NoAnswer: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "no answer from the database within \(Int(seconds.rounded())) s" }
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
        let bridge: PostgresBridge
        func callAsFunction(_ query: PostgresQuery) throws -> [PostgresRow] { try bridge.run(query) }
    }

    /// One statement, bounded; a connection that fails or does not answer is lost for good (closed, and every
    /// later call fails at once). Called under the lock.
    func run(_ query: PostgresQuery) throws -> [PostgresRow] {
        if let why = lost.withLock({ $0 }) { throw ConnectionLost(why: why) }
        do {
            if connection.isClosed { throw Closed() }
            return try Self.wait(
                connection.query(query, logger: Self.logger).map { $0.rows }, seconds: url.timeouts.clientWait,
                closed: connection.closeFuture)
        } catch {
            if Self.connectionGone(error) {
                let why = Self.describe(error)
                lost.withLock { $0 = why }
                connection.close().whenComplete { _ in }
                throw ConnectionLost(why: why)
            }
            throw error
        }
    }

    /// The connection is gone (this run cannot go on with the database).
    struct ConnectionLost: Error, CustomStringConvertible {
        let why: String
        var description: String { "lost the connection to the database (\(why))" }
    }

    /// Whether an error means that the connection cannot be used any more (rather than one statement failing).
    static func connectionGone(_ error: any Error) -> Bool {
        if error is NoAnswer || error is ConnectionLost || error is Closed { return true }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            // Class 08 (connection exception) and 57P0x (the server shut down or ended this session).
            return state.hasPrefix("08") || state.hasPrefix("57P0") || state == "25P03"
        }
        return [.clientClosedConnection, .serverClosedConnection, .uncleanShutdown, .connectionError].contains(error.code)
    }

    /// Runs statements under the lock.
    func locked<T>(_ body: (Session) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(Session(bridge: self))
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
        if lost.withLock({ $0 }) == nil {
            _ = try? Self.wait(connection.close(), seconds: 2)
        }
        try? group.syncShutdownGracefully()
    }

    /// What went wrong, in words: the server's message and SQLSTATE, or the connection's error.
    static func describe(_ error: any Error) -> String {
        if error is ConnectionLost { return "\(error)" }
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
