import GatewayAuth
import GatewayCore
import GatewayHTTP
import Logging
import ServiceLifecycle

/// Brings this node in line with the store on an interval (`RECONCILE_INTERVAL`), in cluster
/// mode: token revocations and the catalog are reloaded, so a change whose announcement was lost
/// (Redis failing when it was published, or when this node should have heard it) is served
/// stale for at most one interval. Announcements stay the fast path.
struct Reconciler: Service {
    let registry: Registry
    let revocations: TokenRevocations
    let store: any TokenStore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await periodically(every: interval) { await reconcile() }
    }

    func reconcile() async {
        do {
            if revocations.load(try await store.activeRevocations(now: .now())) {
                AnnouncementMetrics.caughtUp(.revocations)
                logger.notice("token revocations caught up from the store")
            }
        } catch {
            logger.warning("cannot reconcile token revocations", metadata: ["error": "\(error)"])
        }
        do {
            if try await registry.reconcile() {
                AnnouncementMetrics.caughtUp(.catalog)
                logger.notice("catalog caught up from the store")
            }
        } catch {
            logger.warning("cannot reconcile the catalog", metadata: ["error": "\(error)"])
        }
    }
}
