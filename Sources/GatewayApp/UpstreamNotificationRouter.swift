import GatewayCore
import GatewaySession
import Logging
import ServiceLifecycle
import Synchronization

/// Acts on what upstreams announce outside calls: a list change is passed to the leader, which
/// re-lists that upstream once for the whole cluster (``FederationSync``; the catalog then changes
/// and clients hear of it), a resource update reaches the client sessions subscribed to that
/// resource, a change of health is stored (`reachable`).
final class UpstreamNotificationRouter: Service, Sendable {
    let upstream: any UpstreamClient
    let registry: Registry
    let coordinator: any Coordinator
    let runtime: SessionRuntime
    let logger: Logger
    /// Gateways whose list change is being passed on: however many announcements an upstream
    /// sends, at most one request per gateway is in flight from this node.
    let passing = Mutex<Set<String>>([])

    init(
        upstream: any UpstreamClient,
        registry: Registry,
        coordinator: any Coordinator,
        runtime: SessionRuntime,
        logger: Logger
    ) {
        self.upstream = upstream
        self.registry = registry
        self.coordinator = coordinator
        self.runtime = runtime
        self.logger = logger
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            for await event in upstream.events.cancelOnGracefulShutdown() {
                switch event {
                case .notification(let gatewayID, let message):
                    switch message.method {
                    case "notifications/tools/list_changed", "notifications/resources/list_changed",
                        "notifications/prompts/list_changed":
                        guard passing.withLock({ $0.insert(gatewayID).inserted }) else { continue }
                        group.addTask { await self.askLeader(gatewayID) }
                    case "notifications/resources/updated":
                        guard let uri = ParamsRewriter.stringMember("uri", in: message) else { continue }
                        runtime.resourceUpdated(gatewayID: gatewayID, uri: uri, notification: message.bytes)
                    default:
                        continue
                    }
                case .health(let gatewayID, let reachable, let reason):
                    group.addTask { await self.setReachable(gatewayID, reachable, reason: reason) }
                case .eraChanged(let gatewayID, let version):
                    logger.info(
                        "upstream speaks another protocol era now",
                        metadata: ["upstream.id": .string(gatewayID), "upstream.protocol": .string(version)]
                    )
                    guard passing.withLock({ $0.insert(gatewayID).inserted }) else { continue }
                    group.addTask { await self.askLeader(gatewayID) }
                }
            }
            group.cancelAll()
        }
    }

    func setReachable(_ gatewayID: String, _ reachable: Bool, reason: String) async {
        do {
            try await registry.setGatewayReachable(id: gatewayID, reachable: reachable)
            logger.log(
                level: reachable ? .info : .warning,
                reachable ? "upstream reachable again" : "upstream unreachable",
                metadata: ["upstream.id": .string(gatewayID), "reason": .string(reason)]
            )
        } catch {
            logger.warning("upstream health could not be stored", metadata: ["upstream.id": .string(gatewayID)])
        }
    }

    func askLeader(_ gatewayID: String) async {
        defer { _ = passing.withLock { $0.remove(gatewayID) } }
        do {
            try await coordinator.requestSync(gatewayID: gatewayID)
        } catch {
            // The leader's interval re-lists it anyway; this only makes it later.
            AnnouncementMetrics.failed(.sync)
            logger.warning(
                "a list change could not be passed to the leader",
                metadata: ["upstream.id": .string(gatewayID), "error": "\(error)"]
            )
        }
    }
}
