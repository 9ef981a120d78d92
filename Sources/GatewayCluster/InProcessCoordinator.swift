import GatewayCore
import Synchronization

/// The embedded default's coordinator: one node, always leader, local fan-out.
public final class InProcessCoordinator: Coordinator {
    public let nodeID: String

    struct State {
        var terminated: [String: ContinuousClock.Instant] = [:]
        var subscribers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextSubscriber = 0
    }

    private let state = Mutex(State())
    private let clock = ContinuousClock()
    /// Most terminated-session records kept; the oldest expire first when full.
    let maximumTerminatedSessions: Int

    public init(nodeID: String, maximumTerminatedSessions: Int = 100_000) {
        self.nodeID = nodeID
        self.maximumTerminatedSessions = maximumTerminatedSessions
    }

    public func isLeader() async -> Bool { true }

    public func terminateSession(_ sessionKey: String, ttl: Duration) async throws {
        let now = clock.now
        state.withLock { state in
            if state.terminated.count >= maximumTerminatedSessions {
                state.terminated = state.terminated.filter { $0.value > now }
                if state.terminated.count >= maximumTerminatedSessions,
                    let oldest = state.terminated.min(by: { $0.value < $1.value })?.key
                {
                    state.terminated.removeValue(forKey: oldest)
                }
            }
            state.terminated[sessionKey] = now.advanced(by: ttl)
        }
    }

    public func isSessionTerminated(_ sessionKey: String) async throws -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let expiry = state.terminated[sessionKey] else { return false }
            if expiry <= now {
                state.terminated.removeValue(forKey: sessionKey)
                return false
            }
            return true
        }
    }

    public func publishCatalogChanged() async throws {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield() }
    }

    public func catalogChanges() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }
}
