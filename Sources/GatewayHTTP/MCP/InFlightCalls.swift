import GatewayCore
import Synchronization

/// The forwarded calls running on this node, by client session and request id, so a client's
/// `notifications/cancelled` can stop its call (and through it the upstream request).
final class InFlightCalls: Sendable {
    struct Key: Hashable {
        var owner: String
        var id: JSONRPCID
    }

    private let calls = Mutex<[Key: Task<MCPDispatcher.Reply, Never>]>([:])

    func insert(_ task: Task<MCPDispatcher.Reply, Never>, for key: Key) {
        calls.withLock { $0[key] = task }
    }

    func remove(_ key: Key) {
        _ = calls.withLock { $0.removeValue(forKey: key) }
    }

    /// Cancels the call; `false` when no such call is running (already answered, or unknown).
    func cancel(_ key: Key) -> Bool {
        guard let task = calls.withLock({ $0.removeValue(forKey: key) }) else { return false }
        task.cancel()
        return true
    }

    var count: Int { calls.withLock { $0.count } }
}
