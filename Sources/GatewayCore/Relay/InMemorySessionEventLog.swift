import DequeModule
import Synchronization

/// The embedded replay buffer: the last `capacity` events of each session, none older than
/// `retention`, for at most `maximumSessions` sessions (beyond that, the sessions that sent
/// nothing for longest are forgotten first).
public final class InMemorySessionEventLog: SessionEventLog {
    struct Kept {
        var event: LoggedEvent
        var at: ContinuousClock.Instant
    }

    struct State {
        var sessions: [String: Deque<Kept>] = [:]
    }

    public let capacity: Int
    public let retention: Duration
    public let maximumSessions: Int
    private let state = Mutex(State())

    public init(capacity: Int, retention: Duration, maximumSessions: Int = 100_000) {
        self.capacity = capacity
        self.retention = retention
        self.maximumSessions = maximumSessions
    }

    public func record(_ event: LoggedEvent, session: String) {
        let now = ContinuousClock.now
        state.withLock { state in
            var kept = state.sessions.removeValue(forKey: session) ?? Deque()
            kept.append(Kept(event: event, at: now))
            while kept.count > capacity { kept.removeFirst() }
            while let oldest = kept.first, now - oldest.at > retention { kept.removeFirst() }
            state.sessions[session] = kept
            if state.sessions.count > maximumSessions { Self.evictIdlest(&state, now: now, keeping: maximumSessions) }
        }
    }

    public func events(session: String, stream: String, after sequence: Int) async -> [LoggedEvent] {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let kept = state.sessions[session] else { return [] }
            return kept.filter { $0.event.stream == stream && $0.event.sequence > sequence && now - $0.at <= retention }
                .map(\.event)
        }
    }

    public func forget(session: String) {
        _ = state.withLock { $0.sessions.removeValue(forKey: session) }
    }

    /// How many sessions have events kept.
    public var sessionCount: Int { state.withLock { $0.sessions.count } }

    /// Drops expired sessions, then the idlest tenth beyond the limit (so eviction is not paid on
    /// every record).
    static func evictIdlest(_ state: inout State, now: ContinuousClock.Instant, keeping limit: Int) {
        let byLastEvent = state.sessions.map { ($0.key, $0.value.last?.at ?? now) }.sorted { $0.1 < $1.1 }
        let excess = state.sessions.count - limit + max(1, limit / 10)
        for (session, _) in byLastEvent.prefix(excess) { state.sessions[session] = nil }
    }
}
