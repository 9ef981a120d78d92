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
import ServiceLifecycle

/// The parts of a gateway that routes and services share, built once by ``wireGateway``: the
/// catalog and registry, the dispatcher, tokens and audit, coordination.
struct GatewayParts {
    let configuration: GatewayConfiguration
    let store: any Store
    let upstream: HTTPUpstreamClient
    let coordination: Coordination
    let catalog: CatalogHolder
    let registry: Registry
    let identityKeys: IdentityKeys
    let dispatcher: MCPDispatcher
    let authority: TokenAuthority
    let audit: AuditTrail
    /// One per node: shared by the HTTP concurrency limit and WebSocket connections.
    let clientSlots: ClientSlots
    let bodyReader: RequestBodyReader
    let logger: Logger

    var coordinator: any Coordinator { coordination.coordinator }

    static func make(
        _ configuration: GatewayConfiguration,
        store: any Store,
        upstream: HTTPUpstreamClient,
        coordination: Coordination,
        logger: Logger
    ) async throws -> GatewayParts {
        let federation = Federation(
            gatewayID: try await store.gatewayIdentity(proposing: UUID().uuidString.lowercased()),
            name: configuration.federation.name,
            maximumHops: configuration.federation.maximumHops
        )
        let catalog = CatalogHolder()
        let registry = Registry(
            store: store,
            upstream: upstream,
            coordinator: coordination.coordinator,
            catalog: catalog,
            naming: Naming(separator: configuration.toolNameSeparator),
            discoveryTimeout: .seconds(30),
            logger: logger,
            rules: configuration.security.validation,
            federation: federation
        )
        try await registry.reload()
        let identityKeys = try await IdentityKeys(configuration, federation: federation)
        let dispatcher = MCPDispatcher(
            catalog: catalog,
            upstream: upstream,
            pagination: Pagination(pageSize: configuration.mcpListPageSize),
            upstreamTimeout: .seconds(configuration.toolTimeoutSeconds),
            identity: ServerIdentity(name: "mcp-gateway-swift", version: gatewayVersion, federation: federation),
            rules: configuration.security.validation,
            identityAsserter: identityKeys.asserter
        )
        let authority = try await tokenAuthority(configuration)
        authority.revocations.load(try await store.activeRevocations(now: .now()))
        let audit = AuditTrail(
            store: store,
            retention: .seconds(configuration.security.auditRetentionDays * 86400),
            logger: logger
        )
        return GatewayParts(
            configuration: configuration,
            store: store,
            upstream: upstream,
            coordination: coordination,
            catalog: catalog,
            registry: registry,
            identityKeys: identityKeys,
            dispatcher: dispatcher,
            authority: authority,
            audit: audit,
            clientSlots: ClientSlots(limit: configuration.security.maximumConcurrentRequests),
            bodyReader: RequestBodyReader(timeout: .seconds(configuration.security.bodyReadTimeoutSeconds)),
            logger: logger
        )
    }

    /// The router with its middlewares (metrics, tracing, log context, CORS, security headers,
    /// authentication and rate limits, per-client concurrency) and the REST and token routes.
    func router(metrics: PrometheusMetrics?) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        // First, so every answer is counted, refusals included.
        if metrics != nil { router.add(middleware: MetricsMiddleware<GatewayRequestContext>()) }
        // Continues the client's W3C trace for the request and its upstream calls.
        router.add(middleware: TraceContextMiddleware<GatewayRequestContext>())
        router.add(middleware: RequestLogContextMiddleware<GatewayRequestContext>())
        if !configuration.security.corsOrigins.isEmpty {
            router.add(
                middleware: CORSAllowListMiddleware<GatewayRequestContext>(origins: configuration.security.corsOrigins)
            )
        }
        router.add(middleware: SecurityHeadersMiddleware<GatewayRequestContext>(tls: configuration.security.tls != nil))
        authenticate(router)
        router.add(middleware: ConcurrencyLimitMiddleware<GatewayRequestContext>(slots: clientSlots))
        registerREST(on: router)
        return router
    }

    /// Authentication and rate limits, the same on the HTTP and WebSocket routers.
    func authenticate<Context: AuthenticatedRequestContext>(_ router: Router<Context>) {
        addAuthentication(
            to: router,
            configuration,
            authority: authority,
            audit: audit,
            counter: coordination.rateCounter,
            identities: identityKeys.verifier
        )
    }

    func registerREST(on router: Router<GatewayRequestContext>) {
        let rest = RESTRoutes(
            registry: registry,
            store: store,
            maximumBodyBytes: configuration.maxRequestBodyBytes,
            version: gatewayVersion,
            upstreamTimeout: .seconds(configuration.toolTimeoutSeconds),
            audit: audit,
            bodyReader: bodyReader
        )
        rest.register(on: router.group())
        rest.register(on: router.group("v1"))
        let tokens = TokenRoutes(
            authority: authority,
            store: store,
            catalog: catalog,
            audit: audit,
            maximumDays: configuration.security.tokenMaximumDays,
            maximumBodyBytes: configuration.maxRequestBodyBytes,
            rules: configuration.security.validation,
            bodyReader: bodyReader,
            coordinator: coordinator
        )
        tokens.register(on: router.group("tokens"))
        tokens.register(on: router.group("v1/tokens"))
    }

    /// The MCP endpoints (every transport) on the session runtime of this node.
    func mcpRoutes(secret: String, nodeID: String, on router: Router<GatewayRequestContext>) -> MCPRoutes {
        let runtime = SessionRuntime(
            nodeID: nodeID,
            streamCapacity: configuration.streamQueueSize,
            streamBytes: configuration.streamQueueBytes,
            keepAliveInterval: .seconds(configuration.keepAliveIntervalSeconds),
            eventLog: coordination.eventLog,
            replayRetention: .seconds(configuration.replayRetentionSeconds),
            bus: coordination.bus,
            subscriptionsPerSession: configuration.maximumSubscriptionsPerSession,
            connectionSessions: configuration.maximumConnectionSessions
        )
        var routes = MCPRoutes(
            dispatcher: dispatcher,
            sealer: SessionSealer(secret: secret),
            coordinator: coordinator,
            maximumBodyBytes: configuration.mcpMaxBodyBytes,
            sessionTTL: .seconds(configuration.sessionTTLSeconds),
            runtime: runtime,
            bodyReader: bodyReader,
            passthrough: configuration.security.headerPassthrough
        )
        routes.connectionLimits = ConnectionLimits(
            slots: clientSlots,
            frames: configuration.security.rateLimitEnabled
                ? FrameRateLimit(
                    counter: coordination.rateCounter,
                    perMinute: configuration.security.rateLimits.mcpPerMinute
                ) : nil
        )
        routes.register(on: router)
        return routes
    }

    /// HTTP/1 (with the WebSocket upgrade only when enabled: off, /ws is an ordinary 404 route),
    /// under TLS when configured.
    func server(mcp: MCPRoutes) throws -> HTTPServerBuilder {
        let http1 = http1Configuration(configuration.security, disconnects: mcp.disconnects)
        var server: HTTPServerBuilder =
            configuration.webSocketEnabled
            ? .http1WebSocketUpgrade(
                webSocketRouter: mcp.webSocketRouter { router in authenticate(router) },
                configuration: .init(http1: http1)
            )
            : .http1(configuration: http1)
        if let files = configuration.security.tls {
            server = try .tls(server, tlsConfiguration: try tlsConfiguration(files))
        }
        return server
    }
}
