import Foundation
import Testing

@testable import GatewayStore

/// `DATABASE_URL` in libpq's URL form: percent-decoded credentials, default port, sslmode, and
/// errors that never repeat the URL or its password. (TLS itself is covered by nothing here: the
/// tests have no PostgreSQL with a certificate.)
@Suite struct PostgresConnectionConfigTests {
    /// `user:password` (built here so no URL with credentials sits in the source as one literal).
    let credentials = "gw%40ops:p%2Fss%3Aw%40rd"

    @Test func readsEveryPartAndDecodesCredentials() throws {
        let config = try PostgresConnectionConfig(
            parsing: "postgresql://\(credentials)@db.example.com:6543/mcp%20gw?sslmode=verify-full&sslrootcert=/ca.pem"
        )
        #expect(config.username == "gw@ops")
        #expect(config.password == "p/ss:w@rd")  // pragma: allowlist secret
        #expect(config.host == "db.example.com")
        #expect(config.port == 6543)
        #expect(config.database == "mcp gw")
        #expect(config.sslMode == .verifyFull)
        #expect(config.sslRootCertificate == "/ca.pem")
        #expect(!config.description.contains("w@rd") && !config.description.contains("w%40rd"))
    }

    @Test func defaultsFollowLibpq() throws {
        for scheme in ["postgresql", "postgres", "postgresql+psycopg"] {
            let config = try PostgresConnectionConfig(parsing: "\(scheme)://gateway@127.0.0.1/mcp")
            #expect(config.port == 5432)
            #expect(config.password == nil)
            #expect(config.sslMode == .prefer)
        }
        let ipv6 = try PostgresConnectionConfig(parsing: "postgresql://gateway@[::1]:5433")
        #expect(ipv6.host == "::1" && ipv6.port == 5433 && ipv6.database == nil)
    }

    @Test(arguments: [
        ("postgresql://CREDS@127.0.0.1:99999/mcp", "invalid PostgreSQL port"),
        ("postgresql://CREDS@127.0.0.1:5432/mcp?sslmode=sometimes", "sslmode must be one of"),
        ("postgresql://CREDS@:5432/mcp", "names no PostgreSQL host"),
        ("postgresql://127.0.0.1:5432/mcp", "names no PostgreSQL user"),
        ("postgresql://CREDS%zz@127.0.0.1/mcp", "not valid percent-encoding"),
    ])
    func refusalsExplainWithoutTheURL(url: String, reason: String) {
        let text = url.replacingOccurrences(of: "CREDS", with: credentials)
        #expect {
            _ = try DatabaseURL.parse(text)
        } throws: { error in
            let message = "\(error)"
            return message.contains(reason) && !message.contains("w%40rd") && !message.contains("127.0.0.1")
        }
    }
}
