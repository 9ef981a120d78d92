import GatewayCore
import Synchronization

/// The `logging/setLevel` of each stateful client session on this node: log notifications below
/// it are not relayed to that client.
///
/// Bounded: past `capacity` sessions the oldest settings are forgotten (those clients then get
/// every log notification, the default when no level was set).
package final class SessionLogLevels: Sendable {
    package struct State {
        var levels: [String: LoggingLevel] = [:]
        var order: [String] = []
    }

    package let capacity: Int
    private let state = Mutex(State())

    package init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    package func level(for session: String) -> LoggingLevel? {
        state.withLock { $0.levels[session] }
    }

    package func set(_ level: LoggingLevel, for session: String) {
        state.withLock { state in
            if state.levels.updateValue(level, forKey: session) == nil { state.order.append(session) }
            if state.order.count > capacity {
                let evicted = state.order.prefix(state.order.count - capacity)
                for session in evicted { state.levels[session] = nil }
                state.order.removeFirst(evicted.count)
            }
        }
    }

    package func forget(_ session: String) {
        state.withLock { state in
            if state.levels.removeValue(forKey: session) != nil { state.order.removeAll { $0 == session } }
        }
    }
}
