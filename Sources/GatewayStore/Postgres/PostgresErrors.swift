import GatewayCore
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PostgreSQL failures as store errors. A unique violation (SQLSTATE 23505) is a conflict, with
/// the SQLite store's message; other server errors name their SQLSTATE; everything else is
/// `.unavailable` with a short reason. No message holds the URL, a password or a bound value.
enum PostgresErrors {
    static func mapped(_ error: any Error) -> StoreError {
        switch error {
        case let error as StoreError:
            return error
        case let error as PSQLError:
            return mapped(error)
        case is CancellationError:
            return unavailable("the operation was cancelled")
        case is NIOSSLError, is BoringSSLError:
            return unavailable("TLS failed")
        default:
            return StoreError(.unavailable, "PostgreSQL operation failed")
        }
    }

    static func unavailable(_ reason: String) -> StoreError {
        StoreError(.unavailable, "PostgreSQL unavailable: \(reason)")
    }

    static func mapped(_ error: PSQLError) -> StoreError {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "unknown"
            if state == "23505" { return StoreError(.conflict, "a name or id is already in use") }
            if let reason = connectionReason(sqlState: state) { return unavailable(reason) }
            return StoreError(.unavailable, "PostgreSQL error (SQLSTATE \(state))")
        case .connectionError:
            return unavailable(connectReason(error.underlying))
        case .sslUnsupported:
            return unavailable("the server does not offer TLS, which sslmode requires")
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            return unavailable("TLS could not be set up")
        case .serverClosedConnection, .uncleanShutdown:
            return unavailable("the connection was lost")
        case .clientClosedConnection, .poolClosed:
            return unavailable("the store is closed")
        case .authMechanismRequiresPassword:
            return unavailable("the server asks for a password and the URL has none")
        case .unsupportedAuthMechanism, .saslError:
            return unavailable("authentication failed")
        case .queryCancelled:
            return unavailable("the operation was cancelled")
        default:
            return unavailable("protocol error (\(error.code))")
        }
    }

    /// Server errors that mean "cannot use this database" rather than "this statement failed".
    static func connectionReason(sqlState: String) -> String? {
        switch sqlState {
        case "28P01", "28000": "authentication failed"
        case "3D000": "the database does not exist"
        case "53300": "too many connections"
        case "57P01", "57P02", "57P03": "the server is shutting down or starting up"
        case "25006": "the server is read-only"
        default: nil
        }
    }

    /// Why a TCP connection failed, from the socket error below postgres-nio's.
    static func connectReason(_ error: (any Error)?) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return connectReason(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "the host name does not resolve" }
            return "connection failed"
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ETIMEDOUT: return "connection timed out"
            case EHOSTUNREACH, ENETUNREACH: return "host unreachable"
            default: return "connection failed (errno \(error.errnoCode))"
            }
        case let error as ChannelError:
            if case .connectTimeout = error { return "connection timed out" }
            return "connection failed"
        case is NIOSSLError, is BoringSSLError:
            return "TLS failed"
        default:
            return "connection failed"
        }
    }
}
