import Foundation
import NIOSSL

/// Where Redis is: `REDIS_URL=redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for
/// Redis over TLS.
public struct RedisEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// TLS (`rediss://`); `nil` for plain TCP.
    public var tls: RedisTLS?

    /// An endpoint; `tls` encrypts the connection and verifies the server (see ``RedisTLS``).
    public init(
        host: String,
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        tls: RedisTLS? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses a `redis://` or `rediss://` URL (`rediss://` turns TLS on, trusting the system's
    /// roots), or explains in one line why not (never repeating the password).
    public static func parse(_ text: String) throws(RedisEndpointError) -> RedisEndpoint {
        let tls: RedisTLS?
        var rest: Substring
        if text.hasPrefix("redis://") {
            tls = nil
            rest = Substring(text.dropFirst("redis://".count))
        } else if text.hasPrefix("rediss://") {
            tls = RedisTLS()
            rest = Substring(text.dropFirst("rediss://".count))
        } else {
            throw RedisEndpointError("REDIS_URL must start with redis:// or rediss:// (TLS)")
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = String(credentials[..<colon])
                username = user.isEmpty ? nil : try decode(user)
                password = try decode(String(credentials[credentials.index(after: colon)...]))
            } else if !credentials.isEmpty {
                password = try decode(String(credentials))
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...].prefix { $0 != "?" }
            if !path.isEmpty {
                guard let number = Int(path), (0...15).contains(number) else {
                    throw RedisEndpointError("REDIS_URL: the database must be a number from 0 to 15")
                }
                database = number
            }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                throw RedisEndpointError("REDIS_URL: unclosed IPv6 address")
            }
            let after = host[host.index(after: close)...]
            let address = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()), (1...65535).contains(number) else {
                    throw RedisEndpointError("REDIS_URL: bad port")
                }
                port = number
            }
            host = address
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = Int(host[host.index(after: colon)...]), (1...65535).contains(number) else {
                throw RedisEndpointError("REDIS_URL: bad port")
            }
            port = number
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw RedisEndpointError("REDIS_URL names no host") }
        return RedisEndpoint(
            host: host,
            port: port,
            username: username,
            password: password,
            database: database,
            tls: tls
        )
    }

    private static func decode(_ text: String) throws(RedisEndpointError) -> String {
        guard let decoded = text.removingPercentEncoding else {
            throw RedisEndpointError("REDIS_URL: bad percent-encoding in the credentials")
        }
        return decoded
    }
}

/// Why a `REDIS_URL` was refused.
public struct RedisEndpointError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// How a `rediss://` connection is secured. The server is always verified in full: its
/// certificate chain against the trusted roots, and its name against the URL's host (sent as
/// SNI; an IP address is matched against the certificate's IP entries instead). There is no way
/// to turn verification off.
public struct RedisTLS: Sendable, Equatable {
    /// CA certificates trusted instead of the system's roots; `nil` trusts the system's roots.
    public var trustedCertificates: [NIOSSLCertificate]?

    /// TLS trusting `trustedCertificates`, or the system's roots when `nil`.
    public init(trustedCertificates: [NIOSSLCertificate]? = nil) {
        self.trustedCertificates = trustedCertificates
    }

    /// The client set-up: TLS 1.2 or later, chain and host name checked.
    var configuration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let trustedCertificates { configuration.trustRoots = .certificates(trustedCertificates) }
        return configuration
    }
}
