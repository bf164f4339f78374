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

    /// The URL without a password, for messages and `ledger migrate`'s advice.
    public var description: String {
        let place =
            socketFolder.map { "localhost:\(port)/\(database)?host=\($0)&" } ?? "\(host ?? ""):\(port)/\(database)?"
        return "postgresql://\(user)@\(place)sslmode=\(sslMode.rawValue)"
            + (rootCertificate.map { "&sslrootcert=\($0)" } ?? "")
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
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: item.value ?? "") else {
                    throw fail("sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "host": socketFolder = item.value
            case "sslrootcert": rootCertificate = item.value
            default: throw fail("unknown URL parameter \(item.name) (sslmode, host, sslrootcert are known)")
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
            sslMode: mode, rootCertificate: rootCertificate, password: nil)
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
