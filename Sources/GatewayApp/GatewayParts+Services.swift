import GatewayAuth
import GatewayCore
import GatewayHTTP
import GatewaySession
import Hummingbird
import ServiceLifecycle

extension GatewayParts {
    /// Every service that runs beside the server. They stop in reverse order: Redis closes last,
    /// the store just before it, the upstream client after everything that forwards calls.
    func services(mcp: MCPRoutes) -> [any Service] {
        let leaderDuties = LeaderDuties(
            coordinator: coordinator,
            registry: registry,
            upstream: upstream,
            interval: .seconds(configuration.cluster.healthCheckIntervalSeconds),
            timeout: .seconds(configuration.cluster.healthCheckTimeoutSeconds),
            unhealthyThreshold: configuration.cluster.unhealthyThreshold,
            logger: logger
        )
        // Series of tools and upstreams that left the catalog leave the metrics with them.
        let metrics = dispatcher.metrics
        catalog.observe { _, new in
            metrics.prune(keeping: Set(new.fullView.toolRoutes.keys))
            leaderDuties.pruneChecks(keeping: Set(new.contents.gateways.map(\.name)))
        }
        var services: [any Service] = coordination.closer.map { [$0] } ?? []
        services += [
            StoreCloser(store: store), upstream, CatalogRefresher(registry: registry), mcp.runtime.keepAlive, audit,
            bodyReader,
            UpstreamNotificationRouter(
                upstream: upstream,
                registry: registry,
                coordinator: coordinator,
                runtime: mcp.runtime,
                logger: logger
            ),
            FederationSync(
                coordinator: coordinator,
                registry: registry,
                defaultInterval: .seconds(configuration.federation.syncIntervalSeconds),
                logger: logger
            ),
            RevocationListener(
                coordinator: coordinator,
                revocations: authority.revocations,
                store: store,
                logger: logger
            ),
            leaderDuties,
        ]
        services += coordination.services
        services += optionalServices(mcp: mcp)
        return services
    }

    /// Services that run only in some configurations: peer discovery, cluster reconciliation and
    /// session traffic, the admin API.
    func optionalServices(mcp: MCPRoutes) -> [any Service] {
        var services: [any Service] = []
        if !configuration.federation.peers.isEmpty {
            services.append(
                PeerDirectory(
                    peers: configuration.federation.peers,
                    coordinator: coordinator,
                    registry: registry,
                    interval: .seconds(configuration.federation.syncIntervalSeconds),
                    logger: logger
                )
            )
        }
        services.append(SubscriptionExpiry(engine: mcp.engine, interval: .seconds(5)))
        if configuration.cluster.redis != nil {
            services.append(
                Reconciler(
                    registry: registry,
                    revocations: authority.revocations,
                    store: store,
                    interval: .seconds(configuration.cluster.reconcileIntervalSeconds),
                    logger: logger
                )
            )
        }
        if coordination.bus != nil { services.append(SessionBusListener(engine: mcp.engine, logger: logger)) }
        if configuration.security.adminAPIEnabled {
            services.append(
                adminApplication(
                    configuration,
                    authority: authority,
                    audit: audit,
                    store: store,
                    coordinator: coordinator,
                    logger: logger
                )
            )
        }
        return services
    }
}
