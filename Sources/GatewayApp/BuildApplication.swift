import Foundation
import GatewayAuth
import GatewayCluster
import GatewayCore
import GatewayHTTP
import GatewaySession
import GatewayStore
import GatewayUpstream
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOSSL
import ServiceLifecycle

/// The gateway's version, shown by `/version`, `mcpgateway version` and `serverInfo`.
public let gatewayVersion = "0.1.0"

/// The gateway's application, ready to run: see ``buildGateway(configuration:logger:)``.
///   - nodeID: this node's id in the cluster, logs and metrics.
///   - metrics: the Prometheus backend installed for this process; without it there is no
///     `/metrics` route.
public func buildApplication(
    configuration: GatewayConfiguration,
    logger: Logger,
    nodeID: String = UUID().uuidString.lowercased(),
    metrics: PrometheusMetrics? = nil
) async throws -> some ApplicationProtocol {
    try await buildGateway(configuration: configuration, logger: logger, nodeID: nodeID, metrics: metrics).application()
}

/// Every part of a gateway, wired, before it becomes an application: the router (whose route
/// table the tests check) and the services that run beside it.
public struct BuiltGateway {
    public let router: Router<GatewayRequestContext>
    let server: HTTPServerBuilder
    let services: [any Service]
    let configuration: GatewayConfiguration
    let logger: Logger

    /// The application serving the router on HOST:PORT with the services.
    public func application() -> some ApplicationProtocol {
        var app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: services,
            logger: logger
        )
        app.logger.logLevel = configuration.logLevel
        return app
    }
}

/// The one composition root: builds every part from the configuration and wires them together.
/// Migrations run here, before the server accepts connections.
public func buildGateway(
    configuration: GatewayConfiguration,
    logger: Logger,
    nodeID: String = UUID().uuidString.lowercased(),
    metrics: PrometheusMetrics? = nil
) async throws -> BuiltGateway {
    let store = try await openStore(configuration, logger: logger)
    let secret: String
    do {
        try await store.migrate()
        secret = try jwtSecret(configuration)
    } catch {
        try? await store.close()
        throw error
    }
    var upstreamOptions = HTTPUpstreamClient.Options()
    upstreamOptions.networkPolicy = configuration.security.networkPolicy
    upstreamOptions.maximumInputRounds = configuration.inputRequiredMaxRounds
    upstreamOptions.prefersStateless = configuration.upstreamPrefersStateless
    upstreamOptions.stdioInheritedEnvironment = configuration.security.stdioInheritedEnvironment
    let upstream = HTTPUpstreamClient(options: upstreamOptions, logger: logger)
    do {
        return try await wireGateway(
            configuration,
            store: store,
            secret: secret,
            upstream: upstream,
            nodeID: nodeID,
            metrics: metrics,
            logger: logger
        )
    } catch {
        // Nothing will run: release what was opened, so the process exits with the reason.
        await upstream.shutdownUnstarted()
        try? await store.close()
        throw error
    }
}

/// Everything built on an open store and an unstarted upstream client; ``buildGateway`` releases
/// both when any of it fails.
func wireGateway(
    _ configuration: GatewayConfiguration,
    store: any Store,
    secret: String,
    upstream: HTTPUpstreamClient,
    nodeID: String,
    metrics: PrometheusMetrics?,
    logger: Logger
) async throws -> BuiltGateway {
    let identity = NodeIdentity(
        id: nodeID,
        address: configuration.cluster.nodeAddress ?? "\(configuration.host):\(configuration.port)",
        version: gatewayVersion
    )
    let load = LoadProbe()
    let coordination = Coordination.make(
        configuration,
        identity: identity,
        load: { load.value },
        epochFloor: { try await store.fencingEpoch() },
        claimEpoch: { try await store.claimFencingEpoch($0) },
        logger: logger
    )
    do {
        try await coordination.checkRedisServer(logger: logger)
    } catch {
        coordination.redis?.close()
        throw error
    }
    let parts = try await GatewayParts.make(
        configuration,
        store: store,
        upstream: upstream,
        coordination: coordination,
        logger: logger
    )
    let router = parts.router(metrics: metrics)
    let mcp = parts.mcpRoutes(secret: secret, nodeID: nodeID, on: router)
    load.observe { mcp.runtime.callsInFlight }
    if let metrics, configuration.observability.metricsEnabled {
        let sampler = ScrapeSampler(
            runtime: mcp.runtime,
            coordinator: parts.coordinator,
            catalog: parts.catalog,
            redis: coordination.redis
        )
        MetricsRoutes {
            await sampler.sample()
            return metrics.render()
        }.register(on: router)
    }
    if coordination.bus != nil {
        parts.registry.afterCommit { old, new in await mcp.recordForOrphanedStreams(old: old, new: new) }
    }
    return BuiltGateway(
        router: router,
        server: try parts.server(mcp: mcp),
        services: parts.services(mcp: mcp),
        configuration: configuration,
        logger: logger
    )
}

/// HTTP/1 limits: header size and count (431 beyond, by ``HeaderLimitResponder``), and the idle
/// timeout, which also bounds how long a client may take to send a request head (slow headers);
/// `disconnects` hears of every connection's end.
func http1Configuration(_ security: SecuritySettings, disconnects: ClientDisconnects) -> HTTP1Channel.Configuration {
    HTTP1Channel.Configuration(
        additionalChannelHandlers: [HeaderLimitResponder(), disconnects.watcher()],
        idleTimeout: .seconds(Int64(security.idleTimeoutSeconds)),
        httpDecoderConfiguration: .init(
            maxHeaderFieldSize: security.maximumHeaderBytes,
            maxHeaderListSize: security.maximumHeaderBytes,
            maxHeaderFieldCount: security.maximumHeaderCount
        )
    )
}

/// The server's TLS set-up from PEM files; unreadable or mismatched files stop start-up.
func tlsConfiguration(_ files: (certificateFile: String, keyFile: String)) throws -> TLSConfiguration {
    do {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile).map {
            NIOSSLCertificateSource.certificate($0)
        }
        let key = try NIOSSLPrivateKey(file: files.keyFile, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    } catch {
        throw ConfigurationError("CERT_FILE/KEY_FILE cannot be used as a PEM certificate chain and private key")
    }
}

/// Rate limits per client address, then bearer authentication, then rate limits per token
/// subject (the counter is in process; the cluster backs it with Redis).
func addAuthentication<Context: AuthenticatedRequestContext>(
    to router: Router<Context>,
    _ configuration: GatewayConfiguration,
    authority: TokenAuthority,
    audit: AuditTrail,
    counter: any RateCounter,
    identities: IdentityVerifier? = nil
) {
    let security = configuration.security
    let resolver = ClientAddressResolver(trustedProxies: security.trustedProxies)
    if security.rateLimitEnabled {
        router.add(
            middleware: RateLimitMiddleware<Context>(
                scope: .address,
                limits: security.rateLimits,
                counter: counter,
                resolver: resolver
            )
        )
    }
    router.add(
        middleware: BearerAuthMiddleware<Context>(
            authority: authority,
            required: configuration.authRequired,
            audit: audit,
            scrapeToken: configuration.observability.metricsBearerToken.map(ScrapeToken.init),
            identities: identities
        )
    )
    if security.rateLimitEnabled {
        router.add(
            middleware: RateLimitMiddleware<Context>(
                scope: .client,
                limits: security.rateLimits,
                counter: counter,
                resolver: resolver
            )
        )
    }
}

/// The admin API on its own listener (ADMIN_HOST:ADMIN_PORT, loopback by default), so exposing
/// the gateway's port never exposes it.
func adminApplication(
    _ configuration: GatewayConfiguration,
    authority: TokenAuthority,
    audit: AuditTrail,
    store: any Store,
    coordinator: any Coordinator,
    logger: Logger
) -> some Service {
    let security = configuration.security
    if !["127.0.0.1", "::1", "localhost"].contains(security.adminHost) {
        logger.warning("the admin API listens beyond loopback", metadata: ["admin.host": .string(security.adminHost)])
    }
    let router = Router(context: GatewayRequestContext.self)
    router.add(middleware: SecurityHeadersMiddleware<GatewayRequestContext>())
    router.add(
        middleware: BearerAuthMiddleware<GatewayRequestContext>(
            authority: authority,
            required: configuration.authRequired,
            audit: audit
        )
    )
    AdminRoutes(audit: audit, store: store, coordinator: coordinator).register(on: router)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(security.adminHost, port: security.adminPort), serverName: nil),
        logger: logger
    )
    app.logger.logLevel = configuration.logLevel
    return app
}

/// Opens the store named by `DATABASE_URL`.
public func openStore(_ configuration: GatewayConfiguration, logger: Logger) async throws -> any Store {
    switch configuration.database {
    case .sqlite(let path):
        if let slash = path.lastIndex(of: "/") {
            try FileManager.default.createDirectory(atPath: String(path[..<slash]), withIntermediateDirectories: true)
        }
        return try await SQLiteStore.open(path: path, cipher: try credentialCipher(configuration), logger: logger)
    case .postgres(let url):
        if configuration.encryptionSecret == nil {
            logger.warning("AUTH_ENCRYPTION_SECRET is not set: every node sharing the database needs the same one")
        }
        return try await PostgresStore.open(
            url: url,
            poolSize: configuration.databasePoolSize,
            cipher: try credentialCipher(configuration),
            logger: logger
        )
    }
}

/// The cipher for upstream credentials: AUTH_ENCRYPTION_SECRET (and the previous one while
/// rotating), or the secret generated once in the data directory.
public func credentialCipher(_ configuration: GatewayConfiguration) throws -> CredentialCipher {
    let secret =
        try configuration.encryptionSecret
        ?? SecretFile.loadOrCreate(
            directory: configuration.dataDirectory,
            name: "encryption-secret",
            variable: "AUTH_ENCRYPTION_SECRET"
        )
    return CredentialCipher(secret: secret, previousSecrets: configuration.previousEncryptionSecret.map { [$0] } ?? [])
}

/// The configured JWT secret, or the generated one in the data directory.
public func jwtSecret(_ configuration: GatewayConfiguration) throws -> String {
    if let secret = configuration.jwtSecretKey { return secret }
    return try SecretFile.loadOrCreate(directory: configuration.dataDirectory)
}

/// Reloads the catalog snapshot whenever the coordinator announces a change.
struct CatalogRefresher: Service {
    let registry: Registry

    func run() async throws {
        for await _ in registry.coordinator.catalogChanges().cancelOnGracefulShutdown() {
            do {
                try await registry.reload()
            } catch {
                registry.logger.warning("catalog reload failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Closes the store when the service group stops.
struct StoreCloser: Service {
    let store: any Store

    func run() async throws {
        try? await gracefulShutdown()
        try await store.close()
    }
}
