import GatewayCore
import Synchronization

/// The forwarded calls running on this node, by client session and request id, so a client's
/// `notifications/cancelled` can stop its call (and through it the upstream request).
package final class InFlightCalls: Sendable {
    package struct Key: Hashable {
        package var owner: String
        package var id: JSONRPCID

        package init(owner: String, id: JSONRPCID) {
            self.owner = owner
            self.id = id
        }
    }

    package struct Entry {
        let ticket: Int
        let task: Task<MCPDispatcher.Reply, Never>
    }

    private let calls = Mutex<(entries: [Key: Entry], next: Int)>(([:], 0))

    /// Starts `operation` as the call `key`. It is registered before it can finish and removes
    /// only its own entry when it does, so nothing stays behind and a reused id does not unhook
    /// another call.
    package func start(
        _ key: Key,
        _ operation: @escaping @Sendable () async -> MCPDispatcher.Reply
    ) -> Task<MCPDispatcher.Reply, Never> {
        calls.withLock { state in
            state.next += 1
            let ticket = state.next
            let task = Task {
                let reply = await operation()
                self.calls.withLock { state in
                    if state.entries[key]?.ticket == ticket { state.entries[key] = nil }
                }
                return reply
            }
            state.entries[key] = Entry(ticket: ticket, task: task)
            return task
        }
    }

    /// Cancels the call; `false` when no such call is running (already answered, or unknown).
    package func cancel(_ key: Key) -> Bool {
        guard let entry = calls.withLock({ $0.entries.removeValue(forKey: key) }) else { return false }
        entry.task.cancel()
        return true
    }

    /// Cancels every call of `owner` (its session ended); returns how many.
    @discardableResult
    package func cancelAll(of owner: String) -> Int {
        let tasks = calls.withLock { state -> [Task<MCPDispatcher.Reply, Never>] in
            let keys = state.entries.keys.filter { $0.owner == owner }
            return keys.compactMap { state.entries.removeValue(forKey: $0)?.task }
        }
        for task in tasks { task.cancel() }
        return tasks.count
    }

    package var count: Int { calls.withLock { $0.entries.count } }
}
