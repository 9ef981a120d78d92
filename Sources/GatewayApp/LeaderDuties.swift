import GatewayCore
import Logging
import Metrics
import ServiceLifecycle

/// The work done once per cluster, by the leader only: upstream health checks. Each interval the
/// leader pings every enabled upstream; one that fails `unhealthyThreshold` checks in a row is
/// marked unreachable, and one that answers again is listed again (which marks it reachable and
/// picks up what changed meanwhile). Every write carries the leader's fencing epoch, so a deposed
/// leader that wakes up late cannot overwrite its successor's findings.
final class LeaderDuties: Service, Sendable {
    let coordinator: any Coordinator
    let registry: Registry
    let upstream: any UpstreamClient
    let interval: Duration
    let timeout: Duration
    let unhealthyThreshold: Int
    let logger: Logger
    private let failures = AsyncFailureCounts()
    /// `mcpgateway_upstream_health_checks_total{upstream, outcome="success"|"failure"}`.
    private let checks = MetricCache<HealthCheckKey, Counter> { key in
        Counter(
            label: "mcpgateway_upstream_health_checks_total",
            dimensions: [("upstream", key.upstream), ("outcome", key.succeeded ? "success" : "failure")]
        )
    }

    struct HealthCheckKey: Hashable, Sendable {
        var upstream: String
        var succeeded: Bool
    }

    /// Drops the health-check series of upstreams no longer registered (`names` are the ones left).
    func pruneChecks(keeping names: Set<String>) {
        for counter in checks.removeAll(where: { !names.contains($0.upstream) }) { counter.destroy() }
    }

    init(
        coordinator: any Coordinator,
        registry: Registry,
        upstream: any UpstreamClient,
        interval: Duration,
        timeout: Duration,
        unhealthyThreshold: Int,
        logger: Logger
    ) {
        self.coordinator = coordinator
        self.registry = registry
        self.upstream = upstream
        self.interval = interval
        self.timeout = timeout
        self.unhealthyThreshold = unhealthyThreshold
        self.logger = logger
    }

    func run() async throws {
        await whileLeading(
            coordinator,
            every: interval,
            notLeading: { await self.failures.reset() },
            round: { epoch in await self.checkAll(epoch: epoch) }
        )
    }

    func checkAll(epoch: Int64) async {
        let gateways = registry.catalog.snapshot.gatewaysByID.values.filter(\.enabled)
        await withDiscardingTaskGroup { group in
            for gateway in gateways {
                group.addTask { await self.check(gateway, epoch: epoch) }
            }
        }
    }

    /// Whether the term this round began in is still this node's (a check can outlast a lease;
    /// the store's fence catches what slips through between this test and the write).
    func stillLeading(_ epoch: Int64) -> Bool { coordinator.leaderEpoch() == epoch }

    func check(_ gateway: GatewayRecord, epoch: Int64) async {
        do {
            do {
                _ = try await upstream.forward(
                    gateway.target,
                    method: "ping",
                    params: nil,
                    timeout: timeout,
                    relay: nil
                )
            } catch let error as UpstreamError {
                checks[HealthCheckKey(upstream: gateway.name, succeeded: false)].increment()
                let failed = await failures.increment(gateway.id)
                guard failed >= unhealthyThreshold, gateway.reachable, stillLeading(epoch) else { return }
                try await registry.setGatewayReachable(id: gateway.id, reachable: false, fencingEpoch: epoch)
                logger.warning(
                    "upstream failed its health checks; marked unreachable",
                    metadata: ["upstream.id": .string(gateway.id), "error": .string(error.message)]
                )
                return
            }
            checks[HealthCheckKey(upstream: gateway.name, succeeded: true)].increment()
            await failures.clear(gateway.id)
            guard !gateway.reachable, stillLeading(epoch) else { return }
            try await registry.refreshGateway(id: gateway.id, fencingEpoch: epoch)
            logger.notice("upstream answers its health checks again", metadata: ["upstream.id": .string(gateway.id)])
        } catch let error as StoreError where error.code == .fenced {
            logger.warning(
                "a newer leader took over; health check result dropped",
                metadata: ["leader.epoch": "\(epoch)"]
            )
        } catch {
            logger.warning(
                "health check could not be recorded",
                metadata: ["upstream.id": .string(gateway.id), "error": "\(error)"]
            )
        }
    }
}

/// Consecutive failed checks per upstream (the leader's memory; a new leader starts afresh).
actor AsyncFailureCounts {
    private var counts: [String: Int] = [:]

    func increment(_ id: String) -> Int {
        counts[id, default: 0] += 1
        return counts[id, default: 0]
    }

    func clear(_ id: String) { counts[id] = nil }

    func reset() { counts = [:] }
}
