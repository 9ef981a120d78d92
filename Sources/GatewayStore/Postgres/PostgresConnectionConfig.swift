import Foundation
import NIOCore
import NIOSSL
import PostgresNIO

/// Where and how to reach PostgreSQL, read from a `DATABASE_URL` in libpq's URL form:
/// `postgresql://user@host:port/database?sslmode=…&sslrootcert=…`, a password as `user:password@host`
/// (also `postgres://` and SQLAlchemy's `postgresql+psycopg://`). User, password and database are
/// percent-decoded;
/// the port defaults to 5432 and `sslmode` to `prefer`, as in libpq. Other query parameters are
/// ignored.
///
/// `sslmode` follows libpq: `disable` never encrypts; `allow` and `prefer` encrypt when the server
/// offers it; `require` insists on encryption without checking the certificate (unless
/// `sslrootcert` is given: then as `verify-ca`); `verify-ca` checks the chain; `verify-full` checks
/// the chain and the host name. `sslrootcert` names a PEM file of trusted roots (the system's
/// roots otherwise).
///
/// The description never includes the password.
struct PostgresConnectionConfig: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode` values.
    enum SSLMode: String, Sendable, CaseIterable {
        case disable
        case allow
        case prefer
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    static let schemes = ["postgresql://", "postgres://", "postgresql+psycopg://"]

    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String?
    var sslMode: SSLMode = .prefer
    var sslRootCertificate: String?

    /// Parses a URL, or explains in one line (without repeating it) why it cannot be used.
    init(parsing text: String) throws(DatabaseURLError) {
        guard let scheme = Self.schemes.first(where: { text.hasPrefix($0) }) else {
            throw DatabaseURLError("DATABASE_URL must start with postgresql://, postgres:// or postgresql+psycopg://")
        }
        let rest = text.dropFirst(scheme.count)
        let main = rest.prefix { $0 != "?" }
        let query = rest.dropFirst(main.count + 1)
        // The last `@` ends the credentials, so an unencoded `@` or `/` in a password still parses.
        var location = main[...]
        if let at = main.lastIndex(of: "@") {
            let credentials = main[..<at]
            location = main[main.index(after: at)...]
            let user = credentials.prefix { $0 != ":" }
            username = try Self.decoded(user, "user name")
            if user.count < credentials.count {
                password = try Self.decoded(credentials.dropFirst(user.count + 1), "password")
            }
        } else {
            username = ""
        }
        guard !username.isEmpty else { throw DatabaseURLError("DATABASE_URL names no PostgreSQL user") }
        let authority = location.prefix { $0 != "/" }
        let path = location.dropFirst(authority.count + 1)
        (host, port) = try Self.hostAndPort(authority)
        let name = try Self.decoded(path, "database name")
        database = name.isEmpty ? nil : name
        try readParameters(query)
    }

    private mutating func readParameters(_ query: Substring) throws(DatabaseURLError) {
        for pair in query.split(separator: "&") {
            let key = pair.prefix { $0 != "=" }
            let value = try Self.decoded(pair.dropFirst(key.count + 1), "query parameter")
            switch key {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw DatabaseURLError(
                        "DATABASE_URL sslmode must be one of "
                            + SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                    )
                }
                sslMode = mode
            case "sslrootcert":
                guard !value.isEmpty else { throw DatabaseURLError("DATABASE_URL sslrootcert names no file") }
                sslRootCertificate = value
            default:
                continue
            }
        }
    }

    private static func hostAndPort(_ authority: Substring) throws(DatabaseURLError) -> (String, Int) {
        var host = authority
        var portText: Substring = ""
        if authority.hasPrefix("[") {
            // An IPv6 literal: [::1]:5432
            guard let close = authority.firstIndex(of: "]") else {
                throw DatabaseURLError("DATABASE_URL has an unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { throw DatabaseURLError("DATABASE_URL names no PostgreSQL host") }
        guard !portText.isEmpty else { return (String(host), 5432) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw DatabaseURLError("DATABASE_URL has an invalid PostgreSQL port (1 to 65535)")
        }
        return (String(host), port)
    }

    private static func decoded(_ text: Substring, _ what: String) throws(DatabaseURLError) -> String {
        guard let value = String(text).removingPercentEncoding else {
            throw DatabaseURLError("DATABASE_URL has a \(what) that is not valid percent-encoding")
        }
        return value
    }

    /// `postgresql://user@host:port/database?sslmode=…`: no password.
    var description: String {
        "postgresql://\(username)@\(host):\(port)/\(database ?? "")?sslmode=\(sslMode.rawValue)"
    }

    /// The TLS set-up `sslMode` asks for; `nil` when TLS is off.
    var tlsConfiguration: TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let sslRootCertificate { tls.trustRoots = .file(sslRootCertificate) }
        switch sslMode {
        case .disable:
            return nil
        case .allow, .prefer:
            // libpq's prefer: encryption when offered, the certificate unchecked (the URL asks for it).
            tls.certificateVerification = .none  // nosemgrep: swift-no-insecure-tls
        case .require:
            // libpq's require: unchecked, unless a root file is named (then as verify-ca).
            tls.certificateVerification = sslRootCertificate == nil ? .none : .noHostnameVerification
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        return tls
    }

    /// The TLS set-up and whether the server must accept it (`allow` and `prefer` fall back to
    /// plain connections); `nil` without TLS.
    var tlsUse: (configuration: TLSConfiguration, required: Bool)? {
        tlsConfiguration.map { ($0, sslMode != .allow && sslMode != .prefer) }
    }

    /// The pooled client's configuration, with at most `poolSize` connections.
    func clientConfiguration(poolSize: Int, connectTimeout: Duration) -> PostgresClient.Configuration {
        var tls = PostgresClient.Configuration.TLS.disable
        if let use = tlsUse { tls = use.required ? .require(use.configuration) : .prefer(use.configuration) }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: port,
            username: username,
            password: password,
            database: database,
            tls: tls
        )
        configuration.options.maximumConnections = poolSize
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// A single connection's configuration (the start-up probe), with the same TLS rules.
    func connectionConfiguration(connectTimeout: Duration) throws -> PostgresConnection.Configuration {
        var tls = PostgresConnection.Configuration.TLS.disable
        if let use = tlsUse {
            let context = try NIOSSLContext(configuration: use.configuration)
            tls = use.required ? .require(context) : .prefer(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: host,
            port: port,
            username: username,
            password: password,
            database: database,
            tls: tls
        )
        configuration.options.connectTimeout = TimeAmount(connectTimeout)
        return configuration
    }
}
