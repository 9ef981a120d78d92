import GatewayCore
import GatewayHTTP
import Logging
import ServiceLifecycle
import Synchronization

/// Acts on what upstreams announce outside calls: a list change re-lists that upstream (which
/// updates the catalog, and clients hear of it), a resource update reaches the client sessions
/// subscribed to that resource, a change of health is stored (`reachable`).
///
/// Refreshes of one upstream never overlap: announcements that arrive during a refresh cause
/// exactly one more.
final class UpstreamNotificationRouter: Service, Sendable {
    let upstream: any UpstreamClient
    let registry: Registry
    let runtime: SessionRuntime
    let logger: Logger

    /// Per gateway being refreshed: whether another refresh was asked for meanwhile.
    let refreshing = Mutex<[String: Bool]>([:])

    init(upstream: any UpstreamClient, registry: Registry, runtime: SessionRuntime, logger: Logger) {
        self.upstream = upstream
        self.registry = registry
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
                        if startRefresh(gatewayID) { group.addTask { await self.refresh(gatewayID) } }
                    case "notifications/resources/updated":
                        guard let uri = ParamsRewriter.stringMember("uri", in: message) else { continue }
                        runtime.resourceUpdated(gatewayID: gatewayID, uri: uri, notification: message.bytes)
                    default:
                        continue
                    }
                case .health(let gatewayID, let reachable, let reason):
                    group.addTask { await self.setReachable(gatewayID, reachable, reason: reason) }
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

    /// `true` when no refresh of the gateway is running (the caller starts one); otherwise marks
    /// the running one to go again.
    func startRefresh(_ gatewayID: String) -> Bool {
        refreshing.withLock { state in
            if state[gatewayID] != nil {
                state[gatewayID] = true
                return false
            }
            state[gatewayID] = false
            return true
        }
    }

    func refresh(_ gatewayID: String) async {
        repeat {
            do {
                try await registry.refreshGateway(id: gatewayID)
                logger.info("upstream lists refreshed after a change", metadata: ["upstream.id": .string(gatewayID)])
            } catch {
                logger.warning(
                    "upstream lists could not be refreshed",
                    metadata: ["upstream.id": .string(gatewayID), "error": "\(error)"]
                )
            }
        } while refreshing.withLock { state in
            let again = state[gatewayID] == true
            state[gatewayID] = again ? false : nil
            return again
        }
    }
}
