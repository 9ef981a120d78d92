import ArgumentParser
import Foundation
import GatewayApp
import GatewayAuth
import GatewayCore
import GatewayTranslate
import Hummingbird
import Logging
import ServiceLifecycle
import Tracing
import UnixSignals

struct MCPGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcpgateway",
        abstract: "An MCP gateway: registry, catalog federation and proxy for Model Context Protocol servers.",
        subcommands: [
            Serve.self, Token.self, Migrate.self, RotateKey.self, Export.self, Import.self, Translate.self,
            CheckConfig.self, Version.self,
        ],
        defaultSubcommand: Serve.self
    )
}

/// Flags that mirror the environment variables; a flag wins over its variable.
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "Address to listen on (HOST).") var host: String?
    @Option(help: "Port to listen on (PORT).") var port: String?
    @Option(help: "sqlite:///relative.db, sqlite:////absolute.db or postgresql://… (DATABASE_URL).")
    var databaseURL: String?
    @Option(help: "Most connections to PostgreSQL (DB_POOL_SIZE).") var dbPoolSize: String?
    @Option(help: "HS256 secret, at least 32 bytes (JWT_SECRET_KEY).") var jwtSecretKey: String?
    @Option(help: "Secret for upstream credentials at rest, at least 32 bytes (AUTH_ENCRYPTION_SECRET).")
    var authEncryptionSecret: String?
    @Option(help: "The encryption secret being rotated away from (AUTH_ENCRYPTION_SECRET_PREVIOUS).")
    var authEncryptionSecretPrevious: String?
    @Option(help: "Require bearer tokens: true or false (AUTH_REQUIRED).") var authRequired: String?
    @Option(help: "Separator between gateway slug and item name (GATEWAY_TOOL_NAME_SEPARATOR).")
    var toolNameSeparator: String?
    @Option(help: "trace, debug, info, notice, warning, error, critical (LOG_LEVEL).") var logLevel: String?
    @Option(help: "Seconds an upstream call may take (TOOL_TIMEOUT).") var toolTimeout: String?
    @Option(help: "Rounds of input_required answered for one call (INPUT_REQUIRED_MAX_ROUNDS).")
    var inputRequiredMaxRounds: String?
    @Option(help: "Era of upstreams that speak both (UPSTREAM_PREFERRED_PROTOCOL_VERSION).")
    var upstreamPreferredProtocolVersion: String?
    @Option(help: "Seconds a stateful MCP session lives (SESSION_TTL).") var sessionTtl: String?
    @Option(help: "Largest MCP request body in bytes (MCP_MAX_BODY_BYTES).") var mcpMaxBodyBytes: String?
    @Option(help: "Largest REST request body in bytes (MAX_REQUEST_BODY_BYTES).") var maxRequestBodyBytes: String?
    @Option(help: "Items per page of MCP list results (MCP_LIST_PAGE_SIZE).") var mcpListPageSize: String?
    @Option(help: "Messages waiting on one client stream (MCP_STREAM_QUEUE_SIZE).") var mcpStreamQueueSize: String?
    @Option(help: "Events kept per session for Last-Event-ID (MCP_REPLAY_BUFFER_EVENTS).") var mcpReplayBufferEvents:
        String?
    @Option(help: "Seconds events are kept for replay (MCP_REPLAY_RETENTION).") var mcpReplayRetention: String?
    @Option(help: "Bytes waiting on one client stream (MCP_STREAM_QUEUE_BYTES).") var mcpStreamQueueBytes: String?
    @Option(help: "Resource subscriptions one session may hold (MCP_MAX_SUBSCRIPTIONS_PER_SESSION).")
    var mcpMaxSubscriptionsPerSession: String?
    @Option(help: "Legacy SSE and WebSocket sessions one node holds (MCP_MAX_CONNECTION_SESSIONS).")
    var mcpMaxConnectionSessions: String?
    @Option(help: "Bytes of events kept per session for replay (MCP_REPLAY_BUFFER_BYTES).")
    var mcpReplayBufferBytes: String?
    @Option(help: "Bytes of replay events one node keeps (MCP_REPLAY_BUFFER_TOTAL_BYTES).")
    var mcpReplayBufferTotalBytes: String?
    @Option(help: "Serve MCP over WebSocket at /ws: true or false (MCPGATEWAY_WS_RELAY_ENABLED).") var wsRelayEnabled:
        String?
    @Option(help: "Seconds between keep-alive comments on streams (SSE_KEEPALIVE_INTERVAL).")
    var sseKeepaliveInterval: String?

    /// The environment with flags laid over it, parsed; exits with one line on stderr if invalid.
    /// Logging is set up from it, with `nodeID` on every line when given.
    func load(nodeID: String? = nil) -> GatewayConfiguration {
        var values = ProcessInfo.processInfo.environment
        let flags: [(String, String?)] = [
            ("HOST", host), ("PORT", port), ("DATABASE_URL", databaseURL), ("DB_POOL_SIZE", dbPoolSize),
            ("JWT_SECRET_KEY", jwtSecretKey),
            ("AUTH_REQUIRED", authRequired), ("AUTH_ENCRYPTION_SECRET", authEncryptionSecret),
            ("AUTH_ENCRYPTION_SECRET_PREVIOUS", authEncryptionSecretPrevious),
            ("GATEWAY_TOOL_NAME_SEPARATOR", toolNameSeparator),
            ("LOG_LEVEL", logLevel), ("TOOL_TIMEOUT", toolTimeout),
            ("INPUT_REQUIRED_MAX_ROUNDS", inputRequiredMaxRounds),
            ("UPSTREAM_PREFERRED_PROTOCOL_VERSION", upstreamPreferredProtocolVersion), ("SESSION_TTL", sessionTtl),
            ("MCP_MAX_BODY_BYTES", mcpMaxBodyBytes), ("MAX_REQUEST_BODY_BYTES", maxRequestBodyBytes),
            ("MCP_LIST_PAGE_SIZE", mcpListPageSize), ("MCP_STREAM_QUEUE_SIZE", mcpStreamQueueSize),
            ("SSE_KEEPALIVE_INTERVAL", sseKeepaliveInterval), ("MCP_REPLAY_BUFFER_EVENTS", mcpReplayBufferEvents),
            ("MCP_REPLAY_RETENTION", mcpReplayRetention), ("MCPGATEWAY_WS_RELAY_ENABLED", wsRelayEnabled),
            ("MCP_REPLAY_BUFFER_BYTES", mcpReplayBufferBytes),
            ("MCP_REPLAY_BUFFER_TOTAL_BYTES", mcpReplayBufferTotalBytes),
            ("MCP_MAX_SUBSCRIPTIONS_PER_SESSION", mcpMaxSubscriptionsPerSession),
            ("MCP_MAX_CONNECTION_SESSIONS", mcpMaxConnectionSessions),
            ("MCP_STREAM_QUEUE_BYTES", mcpStreamQueueBytes),
        ]
        for (key, value) in flags { if let value { values[key] = value } }
        do {
            let configuration = try GatewayConfiguration(values: values)
            bootstrapLogging(
                level: configuration.logLevel,
                format: configuration.observability.logFormat,
                metadata: nodeID.map { ["node_id": .string($0)] } ?? [:]
            )
            return configuration
        } catch {
            fail(error.description)
        }
    }
}

/// Logs go to stderr; stdout carries only command output.
func bootstrapLogging(
    level: Logger.Level,
    format: ObservabilitySettings.LogFormat,
    metadata: Logger.Metadata = [:]
) {
    LoggingSystem.bootstrap { label in
        StandardErrorLogHandler(label: label, level: level, format: format, metadata: metadata)
    }
}

/// Prints one line on stderr and exits non-zero: 2 for invalid usage or configuration, 1 when the
/// work itself could not be done.
func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("mcpgateway: \(message)\n".utf8))
    exit(status)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway (the default command).")
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let nodeID = UUID().uuidString.lowercased()
        let configuration = options.load(nodeID: nodeID)
        let logger = Logger(label: "mcpgateway")
        let metrics = configuration.observability.metricsEnabled ? PrometheusMetrics.bootstrap() : nil
        bootstrapTraceContext()
        let app: any ApplicationProtocol
        do {
            app = try await buildApplication(
                configuration: configuration,
                logger: logger,
                nodeID: nodeID,
                metrics: metrics
            )
        } catch let error as ConfigurationError {
            fail(error.description)
        } catch {
            fail("cannot start: \(error)")
        }
        // SIGTERM/SIGINT drain: calls in flight may finish for SHUTDOWN_DRAIN_TIMEOUT, then what
        // is left is cancelled.
        var group = ServiceGroupConfiguration(
            services: [app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        group.maximumGracefulShutdownDuration = .seconds(configuration.cluster.drainTimeoutSeconds)
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a bearer token signed with the gateway's secret.")
    @OptionGroup var options: ConfigurationOptions
    @Option(name: [.short, .customLong("username")], help: "The token's subject.") var username: String = "admin"
    @Option(help: "Minutes until the token expires.") var expMinutes: Int = 10080
    @Flag(help: "Grant the admin API (is_admin).") var admin = false
    @Option(help: "Limit the token to one virtual server's MCP endpoints.") var serverId: String?

    func run() async throws {
        let configuration = options.load()
        guard expMinutes > 0, expMinutes <= 525_600 else { fail("--exp-minutes must be from 1 to 525600") }
        guard !username.isEmpty else { fail("--username must not be empty") }
        let issued = await signedToken(
            configuration,
            subject: username,
            lifetime: .seconds(expMinutes * 60),
            admin: admin,
            serverScope: serverId
        )
        await record(issued, configuration: configuration)
        FileHandle.standardOutput.write(Data((issued.token + "\n").utf8))
    }

    /// Records the token in the store, like one made with `POST /tokens`, so operators see it in
    /// `GET /tokens/admin/all` and can revoke it (and what it minted); nothing is printed when
    /// that fails.
    func record(_ issued: IssuedToken, configuration: GatewayConfiguration) async {
        let record = APITokenRecord(
            id: issued.id,
            subject: username,
            name: "mcpgateway token \(issued.id.prefix(8))",
            description: admin ? "signed by mcpgateway token (admin)" : "signed by mcpgateway token",
            serverID: serverId,
            createdAt: .now(),
            expiresAt: issued.expiresAt
        )
        do {
            try await withMigratedStore(configuration, label: "mcpgateway.token") { try await $0.insertToken(record) }
        } catch {
            fail("cannot record the token in the store (so it could not be revoked): \(error)", status: 1)
        }
    }
}

/// A bearer token signed with the configured key; exits with the reason when none can be signed.
func signedToken(
    _ configuration: GatewayConfiguration,
    subject: String,
    lifetime: Duration,
    admin: Bool,
    serverScope: String? = nil
) async -> IssuedToken {
    do {
        let authority = try await tokenAuthority(configuration)
        guard authority.canIssue else {
            fail("JWT_PRIVATE_KEY_PATH is needed to sign \(configuration.security.algorithm.rawValue) tokens")
        }
        return try await authority.issue(subject: subject, lifetime: lifetime, admin: admin, serverScope: serverScope)
    } catch {
        fail("cannot sign a token: \(error)")
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Read the configuration as serve does (keys included) and exit: 0, or 2 with the reason."
    )
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = options.load()
        do {
            _ = try await tokenAuthority(configuration)
            try await checkIdentityKeys(configuration)
        } catch {
            fail("\(error)")
        }
        FileHandle.standardOutput.write(Data("configuration ok\n".utf8))
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring the database schema up to date and exit.")
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        do {
            try await withMigratedStore(options.load(), label: "mcpgateway.migrate") { _ in }
        } catch {
            fail("migration failed: \(error)")
        }
    }
}

/// Opens the configured store, brings its schema up to date, runs `body`, and closes it (also
/// when something fails).
func withMigratedStore<T>(
    _ configuration: GatewayConfiguration,
    label: String,
    _ body: (any Store) async throws -> T
) async throws -> T {
    let store = try await openStore(configuration, logger: Logger(label: label))
    do {
        try await store.migrate()
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
}

struct RotateKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Re-encrypt every stored upstream credential under AUTH_ENCRYPTION_SECRET.",
        discussion: """
            Set AUTH_ENCRYPTION_SECRET to the new secret and AUTH_ENCRYPTION_SECRET_PREVIOUS to the old one; \
            afterwards the old secret is no longer needed. Also encrypts values stored before encryption existed.
            """
    )
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        do {
            let gateways = try await withMigratedStore(options.load(), label: "mcpgateway.rotate-key") { store in
                let gateways = try await store.loadCatalog().gateways
                for gateway in gateways { try await store.updateGateway(gateway, items: nil) }
                return gateways
            }
            FileHandle.standardOutput.write(Data("re-encrypted the credentials of \(gateways.count) gateways\n".utf8))
        } catch {
            fail("key rotation failed: \(error)")
        }
    }
}

struct Translate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bridge MCP transports: serve a stdio server over HTTP, or a remote server on stdio.",
        discussion: """
            --stdio "CMD" --port N: runs CMD (one process per client session) and serves it as streamable \
            HTTP at /mcp and legacy SSE at /sse + /message (--expose-sse / --expose-streamable-http pick one).
            --connect-streamable-http URL or --connect-sse URL: serves that remote server on this \
            process's standard input and output (for desktop clients), with --oauth2Bearer TOKEN.
            """
    )

    @Option(help: "A stdio MCP server's command line to serve over HTTP.") var stdio: String?
    @Option(help: "Port to serve on (with --stdio).") var port: Int = 9000
    @Option(help: "Address to serve on (with --stdio); beyond loopback only with --auth-token.") var host = "127.0.0.1"
    @Flag(help: "Serve legacy SSE (/sse, /message).") var exposeSSE = false
    @Flag(help: "Serve streamable HTTP (/mcp).") var exposeStreamableHttp = false
    @Option(help: "Bearer token clients must present (with --stdio; or TRANSLATE_AUTH_TOKEN).") var authToken: String?
    @Option(help: "A remote streamable HTTP MCP endpoint to serve on stdio.") var connectStreamableHttp: String?
    @Option(help: "A remote legacy SSE MCP endpoint to serve on stdio.") var connectSse: String?
    @Option(name: .customLong("oauth2Bearer"), help: "Bearer token for the remote (or MCP_AUTH_TOKEN).")
    var oauth2Bearer: String?
    @Option(help: "trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            fail("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        let environment = ProcessInfo.processInfo.environment
        // A bridge mostly runs beside a desktop client: text unless LOG_FORMAT says otherwise.
        bootstrapLogging(
            level: level,
            format: environment["LOG_FORMAT"].flatMap { .init(rawValue: $0.lowercased()) } ?? .text
        )
        let logger = Logger(label: "mcpgateway.translate")
        let remotes = [
            connectStreamableHttp.map { RemoteStdioBridge.Remote.streamableHTTP($0) }, connectSse.map { .sse($0) },
        ]
        .compactMap { $0 }
        switch (stdio, remotes.count) {
        case (let command?, 0):
            guard !command.trimmingCharacters(in: .whitespaces).isEmpty else { fail("--stdio needs a command") }
            guard (1...65535).contains(port) else { fail("--port must be from 1 to 65535") }
            var options = StdioBridgeServer.Options(commandLine: command)
            options.host = host
            options.port = port
            options.authToken = authToken ?? environment["TRANSLATE_AUTH_TOKEN"]
            options.environment = childEnvironment(environment).environment(parent: environment)
            if exposeSSE || exposeStreamableHttp {
                options.exposeSSE = exposeSSE
                options.exposeStreamableHTTP = exposeStreamableHttp
            }
            let loopback = ["127.0.0.1", "::1", "localhost"].contains(host)
            guard loopback || options.authToken != nil else {
                fail("serving beyond loopback needs --auth-token (or TRANSLATE_AUTH_TOKEN)")
            }
            try await StdioBridgeServer(options: options, logger: logger).run()
        case (nil, 1):
            for url in [connectStreamableHttp, connectSse].compactMap({ $0 }) {
                guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? "")
                else {
                    fail("the remote must be an http or https URL")
                }
            }
            let bridge = RemoteStdioBridge(
                remote: remotes[0],
                bearerToken: oauth2Bearer ?? environment["MCP_AUTH_TOKEN"],
                logger: logger
            )
            try await bridge.run()
        default:
            fail("give either --stdio CMD, or one of --connect-streamable-http URL and --connect-sse URL")
        }
    }
}

extension Translate {
    /// What the bridged process inherits: the variables `STDIO_ENV_ALLOWLIST` names, as for a
    /// gateway's stdio upstreams; never the bridge's tokens.
    func childEnvironment(_ environment: [String: String]) -> ChildEnvironment {
        do {
            return try ChildEnvironment(setting: environment["STDIO_ENV_ALLOWLIST"])
        } catch {
            fail("STDIO_ENV_ALLOWLIST: \(error.message)")
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() {
        FileHandle.standardOutput.write(Data("mcpgateway \(gatewayVersion)\n".utf8))
    }
}

extension MCPGatewayCommand {
    /// Parses the command line and runs the chosen command, awaiting asynchronous ones.
    static func parseAndRun() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
