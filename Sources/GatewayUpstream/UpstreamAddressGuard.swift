import Foundation
import GatewayCore
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SSRF guard at connect time: resolves an upstream's host and refuses it when any of its
/// addresses is one ``NetworkPolicy`` forbids. Connections are then made to the checked address,
/// never to a second resolution, so a name that re-binds to an internal address after
/// registration is caught on the next connection.
public struct UpstreamAddressGuard: Sendable {
    public let policy: NetworkPolicy

    public init(policy: NetworkPolicy) {
        self.policy = policy
    }

    /// The addresses to connect to for `host`, all checked; throws `.blocked` when one is refused.
    public func addresses(host: String, port: Int) async throws -> [SocketAddress] {
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if let reason = policy.refusal(forHostName: name) { throw UpstreamError(.blocked, reason) }
        let addresses = try await Self.resolve(name, port: port)
        guard !addresses.isEmpty else { throw UpstreamError(.unreachable, "\(name) does not resolve") }
        for address in addresses {
            guard let ip = Self.ipAddress(address) else {
                throw UpstreamError(.blocked, "\(name) resolves to a non-IP address")
            }
            if let reason = policy.refusal(for: ip) { throw UpstreamError(.blocked, "\(name): \(reason)") }
        }
        return addresses
    }

    /// Checks the host of `url` (for requests made through AsyncHTTPClient, which resolves again
    /// itself: there the check narrows the re-binding window rather than closing it).
    public func check(url: String) async throws {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw UpstreamError(.blocked, "the URL has no host")
        }
        let port = components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80)
        _ = try await addresses(host: host, port: port)
    }

    static func ipAddress(_ address: SocketAddress) -> IPAddress? {
        switch address {
        case .v4, .v6:
            // NIO's text form of the address (no zone for the addresses a resolver returns).
            return address.ipAddress.flatMap { IPAddress($0) }
        default:
            return nil
        }
    }

    /// getaddrinfo on NIO's blocking-work pool (it may block on DNS).
    static func resolve(_ host: String, port: Int) async throws -> [SocketAddress] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw UpstreamError(.unreachable, "\(host) does not resolve")
            }
            defer { freeaddrinfo(first) }
            var result: [SocketAddress] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let sockaddr = entry.pointee.ai_addr {
                    switch Int32(entry.pointee.ai_family) {
                    case AF_INET:
                        sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                            result.append(SocketAddress($0.pointee, host: host))
                        }
                    case AF_INET6:
                        sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                            result.append(SocketAddress($0.pointee, host: host))
                        }
                    default:
                        break
                    }
                }
                cursor = entry.pointee.ai_next
            }
            return result
        }
    }
}
