import GatewayCore
import GatewayStore
import Logging

/// Everything the gateway reads from its environment and flags, parsed once at start.
///
/// | Variable | Flag | Default | Meaning |
/// |---|---|---|---|
/// | `HOST` | `--host` | `127.0.0.1` | address to listen on |
/// | `PORT` | `--port` | `4444` | port to listen on |
/// | `DATABASE_URL` | `--database-url` | `sqlite:///./data/mcp.db` | store: `sqlite:///relative.db`, `sqlite:////absolute.db`, or `postgresql://user@host:port/database?sslmode=…` (a password as `user:password@host`) |
/// | `DB_POOL_SIZE` | `--db-pool-size` | `10` | most connections to PostgreSQL (1 to 200) |
/// | `JWT_SECRET_KEY` | `--jwt-secret-key` | generated | HS256 secret, at least 32 bytes; if unset, a random one is created once in `<data dir>/jwt-secret` (mode 0600) and reused |
/// | `AUTH_ENCRYPTION_SECRET` | `--auth-encryption-secret` | generated | key material (at least 32 bytes) for upstream credentials and stdio environments at rest (AES-256-GCM, HKDF-derived key); if unset, created once in `<data dir>/encryption-secret` (mode 0600). A different secret makes the gateway refuse to start rather than lose credentials |
/// | `AUTH_ENCRYPTION_SECRET_PREVIOUS` | `--auth-encryption-secret-previous` | none | the old secret during a rotation: values still open with it; `mcpgateway rotate-key` re-encrypts everything under the new one |
/// | `AUTH_REQUIRED` | `--auth-required` | `true` | require bearer tokens (false: every request is `anonymous`) |
/// | `GATEWAY_TOOL_NAME_SEPARATOR` | `--tool-name-separator` | `-` | between gateway slug and item name: `-`, `--`, `_` or `.` |
/// | `LOG_LEVEL` | `--log-level` | `info` | trace, debug, info, notice, warning, error, critical |
/// | `TOOL_TIMEOUT` | `--tool-timeout` | `60` | seconds an upstream call may take before the client gets an error |
/// | `UPSTREAM_PREFERRED_PROTOCOL_VERSION` | `--upstream-preferred-protocol-version` | `2025-11-25` | the era a streamable HTTP upstream that speaks both is spoken to: `2025-11-25` (`initialize` first, `server/discover` when it is refused) or `2026-07-28` (`server/discover` first, `initialize` when that fails). An upstream's tools that ask the client on the call's stream fail at 2026-07-28 |
/// | `INPUT_REQUIRED_MAX_ROUNDS` | `--input-required-max-rounds` | `10` | rounds of `input_required` a 2026-07-28 upstream may ask of one call when the gateway puts its questions to a 2025-11-25 (or older) client (1 to 100); beyond it the call fails |
/// | `SESSION_TTL` | `--session-ttl` | `86400` | seconds a stateful MCP session lives; after that (or after DELETE) its id gets 404 and the client initializes again |
/// | `MCP_MAX_BODY_BYTES` | `--mcp-max-body-bytes` | `4194304` | largest MCP request body (413 beyond) |
/// | `MAX_REQUEST_BODY_BYTES` | `--max-request-body-bytes` | `1048576` | largest REST request body (413 beyond) |
/// | `MCP_LIST_PAGE_SIZE` | `--mcp-list-page-size` | `100` | items per page of MCP list results |
/// | `MCP_STREAM_QUEUE_SIZE` | `--mcp-stream-queue-size` | `1024` | messages waiting on one client stream; beyond it notifications are dropped and requests to the client refused |
/// | `MCP_STREAM_QUEUE_BYTES` | `--mcp-stream-queue-bytes` | `16777216` | bytes waiting on one client stream. Answers go past `MCP_STREAM_QUEUE_SIZE` (up to twice it) but not past this: a legacy SSE or WebSocket client that keeps asking and never reads is disconnected |
/// | `MCP_REPLAY_BUFFER_EVENTS` | `--mcp-replay-buffer-events` | `256` | events kept per session (GET stream and call streams) for resuming with `Last-Event-ID`; older ones are dropped |
/// | `MCP_REPLAY_BUFFER_BYTES` | `--mcp-replay-buffer-bytes` | `4194304` | bytes of events kept per session for replay (in memory, and in Redis in cluster mode); the oldest go first, and an event larger than this is delivered but not kept |
/// | `MCP_REPLAY_BUFFER_TOTAL_BYTES` | `--mcp-replay-buffer-total-bytes` | `268435456` | bytes of replay events one node keeps in memory over all sessions (and queues for Redis in cluster mode); beyond it the sessions idle longest are forgotten first |
/// | `MCP_MAX_SUBSCRIPTIONS_PER_SESSION` | `--mcp-max-subscriptions-per-session` | `256` | resource subscriptions one client session may hold; beyond it `resources/subscribe` is refused (-32600). A stateful session's subscriptions end with its `SESSION_TTL` |
/// | `MCP_MAX_CONNECTION_SESSIONS` | `--mcp-max-connection-sessions` | `10000` | legacy SSE and WebSocket sessions one node holds at once; beyond it new ones get 503 (or a WebSocket close) |
/// | `MCP_REPLAY_RETENTION` | `--mcp-replay-retention` | `300` | seconds events are kept for replay, and how long a session whose GET stream dropped still collects them |
/// | `MCPGATEWAY_WS_RELAY_ENABLED` | `--ws-relay-enabled` | `false` | serve MCP over WebSocket at `/ws` and `/servers/{id}/ws` (bearer token on the upgrade request) |
/// | `SSE_KEEPALIVE_INTERVAL` | `--sse-keepalive-interval` | `15` | seconds between `: keep-alive` comments on open streams; a call still running after it switches to an SSE answer, and a client that closed its stream is noticed (and its call cancelled upstream) within one interval |
///
/// Security knobs (tokens, admin API, audit log) are listed on ``SecuritySettings``, cluster knobs
/// on ``ClusterSettings``, metrics and logs on ``ObservabilitySettings``.
public struct GatewayConfiguration: Sendable, CustomStringConvertible {
    public var host: String = "127.0.0.1"
    public var port: Int = 4444
    public var database: DatabaseURL = .sqlite(path: "./data/mcp.db")
    /// The most connections the PostgreSQL store opens.
    public var databasePoolSize: Int = 10
    /// `nil` means: use (or create) the secret file in the data directory.
    public var jwtSecretKey: String?
    /// `nil` means: use (or create) the encryption secret file in the data directory.
    public var encryptionSecret: String?
    public var previousEncryptionSecret: String?
    public var authRequired: Bool = true
    public var toolNameSeparator: String = "-"
    public var logLevel: Logger.Level = .info
    public var toolTimeoutSeconds: Int = 60
    public var inputRequiredMaxRounds: Int = 10
    /// Whether upstreams speaking both eras are spoken to at 2026-07-28.
    public var upstreamPrefersStateless = false
    public var sessionTTLSeconds: Int = 86400
    public var mcpMaxBodyBytes: Int = 4 << 20
    public var maxRequestBodyBytes: Int = 1 << 20
    public var mcpListPageSize: Int = 100
    public var streamQueueSize: Int = 1024
    public var streamQueueBytes: Int = 16 << 20
    public var keepAliveIntervalSeconds: Int = 15
    public var webSocketEnabled = false
    public var replayBufferEvents: Int = 256
    public var replayRetentionSeconds: Int = 300
    public var replayBufferBytes: Int = 4 << 20
    public var maximumSubscriptionsPerSession: Int = 256
    public var maximumConnectionSessions: Int = 10_000
    public var replayBufferTotalBytes: Int = 256 << 20
    /// Tokens, the admin API and the audit log.
    public var security = SecuritySettings()
    /// Cluster mode (REDIS_URL) and the leader's periodic work.
    public var cluster = ClusterSettings()
    public var federation = FederationSettings()
    /// Metrics and log format.
    public var observability = ObservabilitySettings()

    public init() {}

    /// Where generated files (the JWT secret) live: the SQLite file's directory, else `./data`.
    public var dataDirectory: String {
        if case .sqlite(let path) = database, let slash = path.lastIndex(of: "/") {
            return String(path[..<slash])
        }
        return "./data"
    }

    /// Never prints secrets.
    public var description: String {
        "GatewayConfiguration(host: \(host), port: \(port), authRequired: \(authRequired), "
            + "separator: \(toolNameSeparator), logLevel: \(logLevel))"
    }

    /// Reads the configuration; `values` maps environment variable names to text, flags already
    /// merged over the environment.
    public init(values: [String: String]) throws(ConfigurationError) {
        try readServer(values)
        try readLimits(values)
        security = try SecuritySettings(values: values)
        cluster = try ClusterSettings(values: values)
        federation = try FederationSettings(values: values)
        observability = try ObservabilitySettings(values: values)
        if cluster.redis != nil {
            // Every node must open the others' session ids and decrypt the same credentials.
            guard jwtSecretKey != nil else {
                throw ConfigurationError("REDIS_URL (cluster mode) needs JWT_SECRET_KEY, the same on every node")
            }
            guard encryptionSecret != nil else {
                throw ConfigurationError(
                    "REDIS_URL (cluster mode) needs AUTH_ENCRYPTION_SECRET, the same on every node"
                )
            }
        }
    }

    /// The listener, the store, secrets, authentication, naming and logging.
    private mutating func readServer(_ values: [String: String]) throws(ConfigurationError) {
        if let host = values["HOST"] {
            guard !host.isEmpty else { throw ConfigurationError("HOST must not be empty") }
            self.host = host
        }
        if let text = values["PORT"] { port = try Self.integer("PORT", text, in: 1...65535) }
        if let text = values["DATABASE_URL"] {
            do { database = try DatabaseURL.parse(text) } catch { throw ConfigurationError(error.description) }
        }
        if let text = values["DB_POOL_SIZE"] { databasePoolSize = try Self.integer("DB_POOL_SIZE", text, in: 1...200) }
        if let secret = values["JWT_SECRET_KEY"], !secret.isEmpty {
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError(
                    "JWT_SECRET_KEY must be at least 32 bytes (generate one with: openssl rand -hex 32)"
                )
            }
            jwtSecretKey = secret
        }
        for (name, target) in [
            ("AUTH_ENCRYPTION_SECRET", \Self.encryptionSecret),
            ("AUTH_ENCRYPTION_SECRET_PREVIOUS", \Self.previousEncryptionSecret),
        ] {
            guard let secret = values[name], !secret.isEmpty else { continue }
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError("\(name) must be at least 32 bytes (generate one with: openssl rand -hex 32)")
            }
            self[keyPath: target] = secret
        }
        if let text = values["AUTH_REQUIRED"] { authRequired = try Self.boolean("AUTH_REQUIRED", text) }
        if let separator = values["GATEWAY_TOOL_NAME_SEPARATOR"] {
            guard ["-", "--", "_", "."].contains(separator) else {
                throw ConfigurationError("GATEWAY_TOOL_NAME_SEPARATOR must be one of: - -- _ .")
            }
            toolNameSeparator = separator
        }
        if let text = values["LOG_LEVEL"] {
            guard
                let level = Logger.Level(rawValue: text.lowercased()) ?? (text.lowercased() == "warn" ? .warning : nil)
            else {
                throw ConfigurationError(
                    "LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical"
                )
            }
            logLevel = level
        }
    }

    /// Timeouts, body and list sizes, streams, replay buffers, sessions.
    private mutating func readLimits(_ values: [String: String]) throws(ConfigurationError) {
        if let text = values["TOOL_TIMEOUT"] {
            toolTimeoutSeconds = try Self.integer("TOOL_TIMEOUT", text, in: 1...86400)
        }
        if let text = values["UPSTREAM_PREFERRED_PROTOCOL_VERSION"] {
            switch text {
            case ProtocolVersions.latestStateful: upstreamPrefersStateless = false
            case ProtocolVersions.stateless: upstreamPrefersStateless = true
            default:
                throw ConfigurationError(
                    "UPSTREAM_PREFERRED_PROTOCOL_VERSION must be \(ProtocolVersions.latestStateful) or \(ProtocolVersions.stateless)"
                )
            }
        }
        if let text = values["INPUT_REQUIRED_MAX_ROUNDS"] {
            inputRequiredMaxRounds = try Self.integer("INPUT_REQUIRED_MAX_ROUNDS", text, in: 1...100)
        }
        if let text = values["SESSION_TTL"] {
            sessionTTLSeconds = try Self.integer("SESSION_TTL", text, in: 60...2_592_000)
        }
        if let text = values["MCP_MAX_BODY_BYTES"] {
            mcpMaxBodyBytes = try Self.integer("MCP_MAX_BODY_BYTES", text, in: 1024...(256 << 20))
        }
        if let text = values["MAX_REQUEST_BODY_BYTES"] {
            maxRequestBodyBytes = try Self.integer("MAX_REQUEST_BODY_BYTES", text, in: 1024...(64 << 20))
        }
        if let text = values["MCP_LIST_PAGE_SIZE"] {
            mcpListPageSize = try Self.integer("MCP_LIST_PAGE_SIZE", text, in: 1...10000)
        }
        if let text = values["MCP_STREAM_QUEUE_BYTES"] {
            streamQueueBytes = try Self.integer("MCP_STREAM_QUEUE_BYTES", text, in: 65536...(1 << 30))
        }
        if let text = values["MCP_STREAM_QUEUE_SIZE"] {
            streamQueueSize = try Self.integer("MCP_STREAM_QUEUE_SIZE", text, in: 16...1_000_000)
        }
        if let text = values["MCPGATEWAY_WS_RELAY_ENABLED"] {
            webSocketEnabled = try Self.boolean("MCPGATEWAY_WS_RELAY_ENABLED", text)
        }
        if let text = values["MCP_REPLAY_BUFFER_EVENTS"] {
            replayBufferEvents = try Self.integer("MCP_REPLAY_BUFFER_EVENTS", text, in: 1...100_000)
        }
        if let text = values["MCP_REPLAY_BUFFER_BYTES"] {
            replayBufferBytes = try Self.integer("MCP_REPLAY_BUFFER_BYTES", text, in: 4096...(1 << 30))
        }
        if let text = values["MCP_REPLAY_BUFFER_TOTAL_BYTES"] {
            replayBufferTotalBytes = try Self.integer("MCP_REPLAY_BUFFER_TOTAL_BYTES", text, in: (1 << 20)...(1 << 40))
        }
        if let text = values["MCP_MAX_SUBSCRIPTIONS_PER_SESSION"] {
            maximumSubscriptionsPerSession = try Self.integer(
                "MCP_MAX_SUBSCRIPTIONS_PER_SESSION",
                text,
                in: 1...100_000
            )
        }
        if let text = values["MCP_MAX_CONNECTION_SESSIONS"] {
            maximumConnectionSessions = try Self.integer("MCP_MAX_CONNECTION_SESSIONS", text, in: 1...10_000_000)
        }
        guard replayBufferBytes <= replayBufferTotalBytes else {
            throw ConfigurationError("MCP_REPLAY_BUFFER_BYTES must not exceed MCP_REPLAY_BUFFER_TOTAL_BYTES")
        }
        if let text = values["MCP_REPLAY_RETENTION"] {
            replayRetentionSeconds = try Self.integer("MCP_REPLAY_RETENTION", text, in: 1...86400)
        }
        if let text = values["SSE_KEEPALIVE_INTERVAL"] {
            keepAliveIntervalSeconds = try Self.integer("SSE_KEEPALIVE_INTERVAL", text, in: 1...300)
        }
    }

    static func integer(_ name: String, _ text: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    static func boolean(_ name: String, _ text: String) throws(ConfigurationError) -> Bool {
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError("\(name) must be true or false")
        }
    }
}

/// A configuration value that cannot be used; the message is one line and never echoes secrets.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
