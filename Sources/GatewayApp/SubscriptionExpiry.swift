import GatewaySession
import ServiceLifecycle

/// Ends the resource subscriptions of stateful sessions whose `SESSION_TTL` passed, on an
/// interval: a client that went away without `DELETE` does not keep upstream subscriptions (and
/// the set replayed to every new upstream session) growing.
struct SubscriptionExpiry: Service {
    let engine: SessionEngine
    let interval: Duration

    func run() async throws {
        await periodically(every: interval) { engine.endExpiredSubscriptions() }
    }
}
