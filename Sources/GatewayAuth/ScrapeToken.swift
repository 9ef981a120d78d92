import Crypto

/// The static bearer token Prometheus presents on `GET /metrics` (`METRICS_BEARER_TOKEN`), so a
/// scrape job needs no expiring JWT. It opens that one route and nothing else.
public struct ScrapeToken: Sendable {
    /// The only path the token is accepted on.
    package static let path = "/metrics"
    private let digest: SHA256Digest

    public init(_ token: String) {
        digest = SHA256.hash(data: Array(token.utf8))
    }

    /// Whether `presented` is the token. Digests are compared, in constant time, so neither the
    /// token's length nor its prefix leaks through timing.
    package func matches(_ presented: Substring) -> Bool {
        SHA256.hash(data: Array(presented.utf8)) == digest
    }
}
