import GatewayCore
import Synchronization

/// The calls of 2026-07-28 clients on this node that asked their client for input and wait for
/// its retry, by call id. Bounded: beyond `capacity`, a call that asks its client is answered
/// with an error instead of `input_required`.
package final class InputRounds: Sendable {
    /// Most calls waiting for a retry on this node.
    package let capacity: Int
    private let calls = Mutex<[String: InputRoundCall]>([:])

    package init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// Records `call`; `false` when `capacity` calls are already waiting.
    package func add(_ call: InputRoundCall) -> Bool {
        calls.withLock { calls in
            if calls[call.id] != nil { return true }
            guard calls.count < capacity else { return false }
            calls[call.id] = call
            return true
        }
    }

    /// The call with `id`, if it still waits here.
    package func call(_ id: String) -> InputRoundCall? {
        calls.withLock { $0[id] }
    }

    /// The call ended and its reply was taken, or no retry came in time.
    package func remove(_ id: String) {
        _ = calls.withLock { $0.removeValue(forKey: id) }
    }

    /// How many calls wait for a retry.
    package var count: Int { calls.withLock { $0.count } }

    /// Retries other nodes handed here, being served, by ticket (so the client leaving there
    /// can stop them).
    private let serving = Mutex<[PostTicket: Task<Void, Never>]>([:])

    /// Serves a retry another node handed here; `false` when `capacity` are served already.
    package func serve(_ ticket: PostTicket, _ operation: @escaping @Sendable () async -> Void) -> Bool {
        serving.withLock { serving in
            guard serving.count < capacity else { return false }
            // Created under the lock its end takes, so it cannot end before it is recorded.
            serving[ticket] = Task {
                await operation()
                _ = self.serving.withLock { $0.removeValue(forKey: ticket) }
            }
            return true
        }
    }

    /// The client of a retry served here left (on the node it sent the retry to).
    package func abandon(_ ticket: PostTicket) {
        serving.withLock { $0.removeValue(forKey: ticket) }?.cancel()
    }
}
