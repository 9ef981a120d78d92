import Foundation

/// Where an upstream's credentials may be sent: the scheme, host and port of its URL (RFC 6454's
/// origin), with the scheme's default port filled in.
///
/// Stored credentials belong to one origin. Moving an upstream that has credentials to another
/// origin needs them given again in the same request (``Registry/updateGateway(id:_:)``), so
/// whoever may edit the URL cannot send the stored ones to a host of their choosing.
public struct UpstreamOrigin: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int

    /// The origin of an absolute http(s) URL, or `nil` (a stdio display URL has none).
    public init?(url text: String) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(),
            scheme == "http" || scheme == "https"
        else { return nil }
        self.scheme = scheme
        self.host = host.hasSuffix(".") ? String(host.dropLast()) : host
        self.port = url.port ?? (scheme == "https" ? 443 : 80)
    }

    public var description: String { "\(scheme)://\(host):\(port)" }

    /// `url` without a userinfo part (`user:password@`), for showing and exporting a URL stored
    /// before such URLs were refused.
    public static func redactingUserInfo(_ url: String) -> String {
        guard let start = url.range(of: "://") else { return url }
        let rest = url[start.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<start.upperBound]) + String(rest[rest.index(after: at)...])
    }
}
