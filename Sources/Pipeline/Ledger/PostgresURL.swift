import Foundation

/// `ledger: postgresql://USER@HOST:PORT/DB?sslmode=...`: where a shared ledger lives. The password never comes from
/// the YAML: it is read as libpq reads it, from `PGPASSWORD` or the password file (`PGPASSFILE`, default
/// `~/.pgpass`, ignored unless private to its owner). HOST is a name or address for TCP, or a folder holding the
/// server's unix socket (`?host=/run/postgresql`, or the folder percent-encoded as the host).
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        /// No TLS (a database on this host or on a private network only).
        case disable
        /// TLS, certificate not checked (protects against listening, not against an impostor).
        case require
        /// TLS with the server's certificate checked against the trusted roots and its name against HOST.
        case verifyFull = "verify-full"
    }

    public var user: String
    /// A TCP host name or address (nil when `socketFolder` is set).
    public var host: String?
    public var socketFolder: String?
    public var port: Int
    public var database: String
    public var sslMode: SSLMode
    /// `sslrootcert=FILE`: the CA certificates (PEM) that verify-full trusts instead of the system's.
    public var rootCertificate: String?
    /// From PGPASSWORD or the password file; never printed.
    public var password: String?
    /// How long every database call may take (`PostgresTimeouts`: URL parameters, in seconds).
    public var timeouts = PostgresTimeouts()

    /// The URL without a password, for messages and `ledger migrate`'s advice.
    public var description: String {
        let place =
            socketFolder.map { "localhost:\(port)/\(database)?host=\($0)&" } ?? "\(host ?? ""):\(port)/\(database)?"
        return "postgresql://\(user)@\(place)sslmode=\(sslMode.rawValue)"
            + (rootCertificate.map { "&sslrootcert=\($0)" } ?? "") + timeouts.parameters
    }

    /// Whether a ledger value is a URL rather than a SQLite path.
    public static func isURL(_ value: String) -> Bool { value.contains("://") }

    /// Parses the URL; `key` names where it came from in error messages. `environment` supplies PGPASSWORD,
    /// PGPASSFILE and HOME.
    public static func parse(_ text: String, key: String = "ledger", environment: [String: String])
        throws(PipelineError) -> PostgresURL
    {
        func fail(_ why: String) -> PipelineError { PipelineError("\(key): \(why)") }
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://"),
            let components = URLComponents(string: text)
        else {
            throw fail("\(redacted(text)) is not a postgresql://USER@HOST:PORT/DB?sslmode=... URL")
        }
        if components.password != nil {
            throw fail(
                "a password in the URL is not allowed (the YAML is not a secret store): put it in PGPASSWORD or in "
                    + "~/.pgpass (PGPASSFILE)")
        }
        guard let user = components.user, !user.isEmpty else { throw fail("the URL names no user (USER@HOST)") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw fail("the URL names no database (/DB)") }
        var sslMode: SSLMode? = nil
        var socketFolder: String? = nil
        var rootCertificate: String? = nil
        var timeouts = PostgresTimeouts()
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: item.value ?? "") else {
                    throw fail("sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "host": socketFolder = item.value
            case "sslrootcert": rootCertificate = item.value
            case let name where PostgresTimeouts.names.contains(name):
                guard let seconds = Double(item.value ?? ""), seconds > 0, seconds <= 86_400 else {
                    throw fail("\(name) must be a number of seconds (more than 0, at most 86400)")
                }
                timeouts[name] = seconds
            default:
                throw fail(
                    "unknown URL parameter \(item.name) (sslmode, host, sslrootcert, "
                        + PostgresTimeouts.names.joined(separator: ", ") + " are known)")
            }
        }
        var host = components.host.flatMap { $0.removingPercentEncoding }
        if let folder = host, folder.hasPrefix("/") {
            socketFolder = folder
            host = nil
        }
        if let folder = socketFolder {
            guard folder.hasPrefix("/") else {
                throw fail("host=\(folder) must be the absolute folder of a unix socket")
            }
            host = nil
        } else if host == nil || host!.isEmpty {
            throw fail("the URL names no host (USER@HOST:PORT)")
        }
        guard let mode = sslMode else {
            throw fail("say how to reach the database: sslmode=disable, require or verify-full")
        }
        if socketFolder != nil && mode != .disable { throw fail("a unix socket takes sslmode=disable") }
        var url = PostgresURL(
            user: user, host: host, socketFolder: socketFolder, port: components.port ?? 5432, database: database,
            sslMode: mode, rootCertificate: rootCertificate, password: nil, timeouts: timeouts)
        url.password = environment["PGPASSWORD"] ?? url.passwordFromFile(environment: environment)
        return url
    }

    /// The password file's entry for this URL (hostname:port:database:username:password; `*` matches anything;
    /// a unix socket is "localhost"), as libpq reads it. A file others may read is ignored, as libpq does.
    func passwordFromFile(environment: [String: String]) -> String? {
        guard let file = environment["PGPASSFILE"] ?? environment["HOME"].map({ $0 + "/.pgpass" }) else { return nil }
        var info = stat()
        guard stat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_mode & 0o077 == 0,
            let text = try? String(contentsOfFile: file, encoding: .utf8)
        else { return nil }
        let wanted = [socketFolder == nil ? host ?? "" : "localhost", String(port), database, user]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = []
            var field = ""
            var escaped = false
            for character in line {
                if escaped {
                    field.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 4 {
                    fields.append(field)
                    field = ""
                } else {
                    field.append(character)
                }
            }
            fields.append(field)
            guard fields.count == 5 else { continue }
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// The text with any password taken out (for an error message about a malformed URL).
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? "(the URL)"
    }
}

/// Bounds on every database call, so that a database that went away, a cut network or a frozen host ends a run
/// (exit 3) instead of hanging it. URL parameters, in seconds; the defaults suit a LAN database.
public struct PostgresTimeouts: Sendable, Equatable {
    /// `connect_timeout`: connecting and logging in.
    public var connect: Double = 10
    /// `statement_timeout`: one statement on the server; the client gives up 5 s after it (a dead connection).
    public var statement: Double = 60
    /// `lock_timeout`: waiting for a row lock (the head of the chain) another session holds.
    public var lock: Double = 30
    /// `idle_in_transaction_timeout`: the server ends a session that sits inside a transaction this long without
    /// sending its next statement (a frozen host holding the head lock): the lock passes to the others, and the
    /// frozen host's transaction is rolled back, so it writes nothing when it wakes. Shorter than `lock_timeout`.
    public var idleInTransaction: Double = 10
    /// `keepalives_idle`: TCP keepalive probes after this many idle seconds (a peer gone without a word).
    public var keepalivesIdle: Double = 30

    static let names = [
        "connect_timeout", "statement_timeout", "lock_timeout", "idle_in_transaction_timeout", "keepalives_idle",
    ]

    subscript(name: String) -> Double {
        get {
            switch name {
            case "connect_timeout": connect
            case "statement_timeout": statement
            case "lock_timeout": lock
            case "idle_in_transaction_timeout": idleInTransaction
            default: keepalivesIdle
            }
        }
        set {
            switch name {
            case "connect_timeout": connect = newValue
            case "statement_timeout": statement = newValue
            case "lock_timeout": lock = newValue
            case "idle_in_transaction_timeout": idleInTransaction = newValue
            default: keepalivesIdle = newValue
            }
        }
    }

    /// The parameters that differ from the defaults, as `&name=value` (for the URL's description).
    var parameters: String {
        let defaults = PostgresTimeouts()
        return Self.names.filter { self[$0] != defaults[$0] }.map { name -> String in
            let value = self[name]
            return "&\(name)=" + (value == value.rounded() ? String(Int(value)) : String(value))
        }.joined()
    }

    /// How long the client waits for any answer: the server's own bound, and 5 s more.
    var clientWait: Double { max(statement, lock) + 5 }
}

extension PipelineConfig {
    /// `CONSENTGATE_HOST_ID`, or the host name: it names this host in claims and lock files.
    static func hostID(environment: [String: String], fail: (String) -> PipelineError) throws(PipelineError) -> String {
        var id = environment["CONSENTGATE_HOST_ID"] ?? ""
        if id.isEmpty {
            var name = [CChar](repeating: 0, count: 256)
            id =
                gethostname(&name, name.count - 1) == 0
                ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        }
        guard id.count <= 64,
            id.unicodeScalars.allSatisfy({
                CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0)
            })
        else { throw fail("CONSENTGATE_HOST_ID \(id) must be 1 to 64 letters, digits, '.', '_' or '-'") }
        return id
    }
}
