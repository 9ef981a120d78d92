import GatewaySession
import ServiceLifecycle

/// Upkeep of resource subscriptions: ends those of stateful sessions whose `SESSION_TTL` passed,
/// on an interval (a client that went away without `DELETE` does not keep upstream subscriptions,
/// and the set replayed to every new upstream session, growing), and sends the upstream
/// `resources/unsubscribe`s the session engine queues when the last watcher of a resource goes.
struct SubscriptionExpiry: Service {
    let engine: SessionEngine
    let interval: Duration

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await engine.releaseUpstreams() }
            await periodically(every: interval) { engine.endExpiredSubscriptions() }
            group.cancelAll()
        }
    }
}
