import Foundation
import GatewayCore

/// The federation knobs of ``GatewayConfiguration`` (environment only): how this deployment
/// introduces itself to peers, how far calls travel, and how often the leader re-lists upstreams
/// and peers. See docs/federation.md.
///
/// | Variable | Default | Meaning |
/// |---|---|---|
/// | `GATEWAY_NAME` | `MCP Gateway` | the deployment's display name, sent to clients as `serverInfo.title` and to peers with its gateway id (the id itself is created once in the store and shared by every node) |
/// | `FEDERATION_MAX_HOPS` | `3` | gateway-to-gateway hops a forwarded call may cross (counted in the `MCP-Gateway-Hops` header); a call past it is refused, and items further away are not imported |
/// | `FEDERATION_PEERS` | none | comma-separated `name=url` peers the leader registers by itself (url: the peer's `/mcp` or `/servers/{id}/mcp`), e.g. `west=https://west.example/mcp` |
/// | `FEDERATION_PEER_TOKEN_FILE` | none | a file holding the bearer token sent to every peer of `FEDERATION_PEERS` and `FEDERATION_DISCOVERY` (read at each round: a rotated Secret updates the registrations) |
/// | `FEDERATION_PEER_TOKENS_DIR` | none | a directory with one token file per `FEDERATION_PEERS` name (a mounted Kubernetes Secret); wins over `FEDERATION_PEER_TOKEN_FILE` for that peer |
/// | `FEDERATION_DISCOVERY` | off | `dns:NAME:PORT` (or `dns:NAME:PORT:https`): every address NAME resolves to (a headless Service) is a peer at `http(s)://ADDRESS:PORT/mcp`, named `<name>-<address>`, sent the `FEDERATION_PEER_TOKEN_FILE` token; re-resolved by the leader every sync interval, vanished addresses deactivated, returning ones activated (never one an operator deactivated) |
/// | `IDENTITY_PROPAGATION_ENABLED` | `false` | send peers who each forwarded call is for: a 60-second ES256 JWT (`sub` the caller, `iss` this gateway's id, `aud` the peer's) in `MCP-Gateway-Identity`, beside this gateway's own token |
/// | `IDENTITY_PROPAGATION_PRIVATE_KEY_FILE` | none | PEM P-256 private key that signs those assertions; required when enabled |
/// | `IDENTITY_PROPAGATION_TRUSTED_KEY_FILE` | none | PEM P-256 public key of a federating gateway whose assertions this gateway honours (for rate limits, logs and audit; access stays the bearer token's); without it the header is ignored |
/// | `FEDERATION_SYNC_INTERVAL` | `300` | seconds between the leader's re-listings of each upstream and peer (a gateway's `sync_interval` overrides it); a `list_changed` heard by any node, and the start of a leader term, re-list sooner |
public struct FederationSettings: Sendable, CustomStringConvertible {
    public var name = "MCP Gateway"
    public var maximumHops = 3
    public var syncIntervalSeconds = 300
    /// `FEDERATION_PEERS`, `FEDERATION_DISCOVERY` and their tokens.
    public var peers = FederationPeers()
    /// The PEM private key that signs identity assertions (`nil`: propagation off).
    public var identitySigningKey: String?
    /// The PEM public key of the federating gateway whose assertions are honoured.
    public var trustedIdentityKey: String?

    public init() {}

    /// The settings without the keys (a private key never reaches a log).
    public var description: String {
        "FederationSettings(name: \(name), maximumHops: \(maximumHops), syncInterval: \(syncIntervalSeconds), "
            + "peers: \(peers.peers.map(\.name)), discovery: \(peers.discovery.map { "\($0.name):\($0.port)" } ?? "off"), "
            + "identityPropagation: \(identitySigningKey != nil), trustedIdentityKey: \(trustedIdentityKey != nil))"
    }

    init(values: [String: String]) throws(ConfigurationError) {
        if let text = values["GATEWAY_NAME"] {
            let name = text.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.count <= 100, ValidationRules.dangerousMarkup(in: name) == nil else {
                throw ConfigurationError("GATEWAY_NAME must be 1 to 100 characters without markup")
            }
            self.name = name
        }
        if let text = values["FEDERATION_MAX_HOPS"] {
            maximumHops = try GatewayConfiguration.integer("FEDERATION_MAX_HOPS", text, in: 1...16)
        }
        if let text = values["FEDERATION_SYNC_INTERVAL"] {
            syncIntervalSeconds = try GatewayConfiguration.integer("FEDERATION_SYNC_INTERVAL", text, in: 1...86400)
        }
        peers = try FederationPeers(values: values)
        try readIdentityKeys(values)
    }

    mutating func readIdentityKeys(_ values: [String: String]) throws(ConfigurationError) {
        func pem(variable: String) throws(ConfigurationError) -> String? {
            guard let path = values[variable], !path.isEmpty else { return nil }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("-----BEGIN") else {
                throw ConfigurationError("\(variable) names a file that cannot be read as a PEM key: \(path)")
            }
            return text
        }
        var enabled = false
        if let text = values["IDENTITY_PROPAGATION_ENABLED"] {
            enabled = try GatewayConfiguration.boolean("IDENTITY_PROPAGATION_ENABLED", text)
        }
        let signing = try pem(variable: "IDENTITY_PROPAGATION_PRIVATE_KEY_FILE")
        if enabled {
            guard let signing else {
                throw ConfigurationError("IDENTITY_PROPAGATION_ENABLED needs IDENTITY_PROPAGATION_PRIVATE_KEY_FILE")
            }
            identitySigningKey = signing
        }
        trustedIdentityKey = try pem(variable: "IDENTITY_PROPAGATION_TRUSTED_KEY_FILE")
    }
}
