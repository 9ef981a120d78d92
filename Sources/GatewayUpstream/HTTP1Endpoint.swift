import Foundation
import NIOCore

/// Where an upstream listens: host name (as written in its URL), port, and whether the
/// connection is TLS (`https`).
struct HTTP1Endpoint: Hashable, Sendable {
    var host: String
    var port: Int
    var tls = false

    /// The endpoint and the request target (path and query) of an `http` or `https` URL, or `nil`
    /// for anything else.
    static func parse(_ url: String) -> (endpoint: HTTP1Endpoint, path: String)? {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            return nil
        }
        let tls: Bool
        switch components.scheme?.lowercased() {
        case "http": tls = false
        case "https": tls = true
        default: return nil
        }
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        return (HTTP1Endpoint(host: host, port: components.port ?? (tls ? 443 : 80), tls: tls), path)
    }

    /// The `Host` header value (the port left out when it is the scheme's default, as browsers
    /// and AsyncHTTPClient send it).
    var hostHeader: String { port == (tls ? 443 : 80) ? host : "\(host):\(port)" }

    /// The name to send as SNI and to verify the certificate against: the URL's host name, or
    /// `nil` for an IP literal (SNI cannot carry one; the certificate is then checked against
    /// the address).
    var serverName: String? {
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        return (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
    }
}
