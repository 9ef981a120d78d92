import Synchronization

/// The embedded replay buffer: ``ReplayBuffers`` on the continuous clock, behind a lock.
public final class InMemorySessionEventLog: SessionEventLog {
    private let state: Mutex<ReplayBuffers<ContinuousClock.Instant>>

    public init(limits: ReplayBuffers<ContinuousClock.Instant>.Limits) {
        state = Mutex(ReplayBuffers(limits: limits))
    }

    public func record(_ event: LoggedEvent, session: String) {
        let now = ContinuousClock.now
        state.withLock { _ = $0.record(event, session: session, now: now) }
    }

    public func events(session: String, stream: String, after sequence: Int) async -> [LoggedEvent] {
        let now = ContinuousClock.now
        return state.withLock { $0.events(session: session, stream: stream, after: sequence, now: now) }
    }

    public func forget(session: String) {
        state.withLock { $0.forget(session: session) }
    }

    /// How many sessions have events kept.
    public var sessionCount: Int { state.withLock { $0.sessionCount } }

    /// Bytes kept over all sessions.
    public var totalBytes: Int { state.withLock { $0.totalBytes } }
}
