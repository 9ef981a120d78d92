import GatewayCluster
import GatewayCore
import GatewayHTTP
import GatewaySession
import Metrics

/// The gauges that describe state rather than events, read when Prometheus scrapes instead of
/// kept up to date on every change: sessions and streams open, the node's leadership, the
/// cluster's size, Redis connections, and each upstream's health as the catalog has it.
struct ScrapeSampler: Sendable {
    let runtime: SessionRuntime
    let coordinator: any Coordinator
    let catalog: CatalogHolder
    let redis: RedisClient?

    private let sessionsOpen = Gauge(label: "mcpgateway_sessions_open")
    private let streamsOpen = Gauge(label: "mcpgateway_sse_streams_open")
    private let leader = Gauge(label: "mcpgateway_leader")
    private let leaderEpoch = Gauge(label: "mcpgateway_leader_epoch")
    private let clusterNodes = Gauge(label: "mcpgateway_cluster_nodes")
    private let redisConnections = Gauge(label: "mcpgateway_redis_connections_open")
    private let upstreamUp = MetricCache<String, Gauge> { upstream in
        Gauge(label: "mcpgateway_upstream_up", dimensions: [("upstream", upstream)])
    }

    init(runtime: SessionRuntime, coordinator: any Coordinator, catalog: CatalogHolder, redis: RedisClient?) {
        self.runtime = runtime
        self.coordinator = coordinator
        self.catalog = catalog
        self.redis = redis
        Gauge(
            label: "mcpgateway_build_info",
            dimensions: [("version", gatewayVersion), ("node", coordinator.nodeID)]
        ).record(1)
    }

    func sample() async {
        sessionsOpen.record(runtime.openSessions)
        streamsOpen.record(runtime.openStreams)
        let epoch = coordinator.leaderEpoch()
        leader.record(epoch == nil ? 0 : 1)
        // The term this node leads in; 0 while it does not lead.
        leaderEpoch.record(epoch ?? 0)
        if let redis { redisConnections.record(redis.openConnections) }
        // Without Redis the registry cannot be read; the last count stays.
        if let view = try? await coordinator.clusterView() { clusterNodes.record(view.nodes.count) }
        sampleUpstreams()
    }

    /// 1 for each enabled upstream the catalog has as reachable, 0 for the others; deleted
    /// upstreams leave the exposition.
    func sampleUpstreams() {
        let gateways = catalog.snapshot.gatewaysByID.values
        let names = Set(gateways.map(\.name))
        for gone in upstreamUp.removeAll(where: { !names.contains($0) }) { gone.destroy() }
        for gateway in gateways {
            upstreamUp[gateway.name].record(gateway.enabled && gateway.reachable ? 1 : 0)
        }
    }
}
