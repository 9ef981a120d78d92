import Synchronization

/// Which client sessions subscribed to which resource of which upstream. The upstream is asked
/// once per resource (by the first subscriber) and released by the last.
package final class ResourceSubscriptions: Sendable {
    package struct Key: Hashable, Sendable {
        var gatewayID: String
        var uri: String
    }

    package struct State {
        var sessionsByResource: [Key: Set<String>] = [:]
        var resourcesBySession: [String: Set<Key>] = [:]
        /// When each stateful session's TTL ends (milliseconds since 1970); connection-bound
        /// sessions and listen streams end with their connection and have none.
        var expiries: [String: Int64] = [:]
    }

    /// Most subscriptions one session may hold (`MCP_MAX_SUBSCRIPTIONS_PER_SESSION`).
    package let perSessionLimit: Int
    private let state = Mutex(State())

    package init(perSessionLimit: Int = 1000) {
        self.perSessionLimit = perSessionLimit
    }

    /// Records when `session` expires (a stateful session's creation plus `SESSION_TTL`).
    package func expires(_ session: String, at milliseconds: Int64) {
        state.withLock { state in
            if state.resourcesBySession[session] != nil { state.expiries[session] = milliseconds }
        }
    }

    /// Removes the subscriptions of every session whose TTL ended by `now` (milliseconds since
    /// 1970); returns the resources nobody watches any more.
    package func removeExpired(now: Int64) -> [Key] {
        state.withLock { state in
            let expired = state.expiries.filter { $0.value <= now }.map(\.key)
            var released: [Key] = []
            for session in expired {
                state.expiries[session] = nil
                released += (state.resourcesBySession[session] ?? []).filter {
                    Self.remove($0, session: session, from: &state)
                }
            }
            return released
        }
    }

    package enum Added {
        /// The first subscriber: the upstream must be asked.
        case first
        /// Others already subscribed (or this session already had).
        case joined
        case overLimit
    }

    package func add(_ key: Key, session: String) -> Added {
        state.withLock { state in
            if state.resourcesBySession[session]?.contains(key) == true { return .joined }
            guard (state.resourcesBySession[session]?.count ?? 0) < perSessionLimit else { return .overLimit }
            state.resourcesBySession[session, default: []].insert(key)
            let first = state.sessionsByResource[key] == nil
            state.sessionsByResource[key, default: []].insert(session)
            return first ? .first : .joined
        }
    }

    /// Removes one subscription; `true` when it was the resource's last (release the upstream).
    package func remove(_ key: Key, session: String) -> Bool {
        state.withLock { state in Self.remove(key, session: session, from: &state) }
    }

    /// Removes every subscription of an ended session; returns the resources nobody watches now.
    package func removeAll(session: String) -> [Key] {
        state.withLock { state in
            (state.resourcesBySession[session] ?? []).filter { Self.remove($0, session: session, from: &state) }
        }
    }

    package func sessions(for key: Key) -> Set<String> {
        state.withLock { $0.sessionsByResource[key] ?? [] }
    }

    private static func remove(_ key: Key, session: String, from state: inout State) -> Bool {
        guard state.sessionsByResource[key]?.remove(session) != nil else { return false }
        state.resourcesBySession[session]?.remove(key)
        if state.resourcesBySession[session]?.isEmpty == true {
            state.resourcesBySession[session] = nil
            state.expiries[session] = nil
        }
        guard state.sessionsByResource[key]?.isEmpty == true else { return false }
        state.sessionsByResource[key] = nil
        return true
    }
}
