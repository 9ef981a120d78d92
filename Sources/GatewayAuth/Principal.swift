import GatewayCore

/// Who made a request, once their token was accepted.
public struct Principal: Sendable, Hashable {
    /// The token's subject (a user name or e-mail).
    public var subject: String
    /// Whether the token grants the admin API (`is_admin`, only on tokens minted by operators).
    public var isAdmin: Bool
    /// The one virtual server an API token is limited to.
    public var serverScope: String?
    /// The token's `jti`, by which it is revoked.
    public var tokenID: String?
    /// When the token expires (tokens it mints expire no later).
    public var expiresAt: Timestamp?
    /// Set only for the static scrape token (`METRICS_BEARER_TOKEN`), which may read `/metrics`
    /// and nothing else.
    public var readsMetricsOnly = false
    /// The caller behind a federating gateway's token, from a verified identity assertion
    /// (`MCP-Gateway-Identity`): `subject` is the peer gateway's token, this is who it calls for.
    /// Rate limits count it and request logs name it; access (and the audit log's actor) is
    /// still the token's.
    public var onBehalfOf: String?
    /// The gateway id of the federating gateway that asserted ``onBehalfOf``.
    public var assertedBy: String?

    /// Whom rate limits count and logs name: the asserted caller (with the gateway that vouched
    /// for it), else the token's subject.
    public var accountable: String {
        guard let onBehalfOf else { return subject }
        return "\(onBehalfOf) via \(assertedBy ?? subject)"
    }

    public init(subject: String, isAdmin: Bool = false, serverScope: String? = nil, tokenID: String? = nil) {
        self.subject = subject
        self.isAdmin = isAdmin
        self.serverScope = serverScope
        self.tokenID = tokenID
    }

    /// Whoever presented the scrape token.
    public static var metricsScraper: Principal {
        var principal = Principal(subject: "metrics-scraper")
        principal.readsMetricsOnly = true
        return principal
    }
}

/// Why a bearer token was refused. The message is safe to return; it never echoes the token.
public struct AuthenticationError: Error, Sendable {
    public var message: String
}
