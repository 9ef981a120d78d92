/// Which upstream sessions exist and which are being created, as a pure state machine: no
/// locks, no continuations resumed inside it. ``UpstreamSessionTable`` keeps one behind its lock
/// and resumes the waiters it hands back after the lock is released. Generic over the session
/// and waiter types so tests drive it with plain values.
///
/// A session is created by exactly one caller (the first), while later callers wait for it; a
/// creation that fails fails its waiters too, and the next caller tries again. Generations tell
/// sessions apart, so a stale session is never invalidated twice.
struct UpstreamSessionTableStateMachine<Session, Waiter> {
    enum Entry {
        case ready(Session, generation: Int)
        case creating([Waiter])
    }

    /// What a caller asking for a session does.
    enum Lookup {
        case ready(Session)
        /// Create it, numbered `generation`; report with ``created(_:generation:)`` or ``failed(_:)``.
        case create(generation: Int)
        /// Another caller is creating it: join with ``wait(_:for:)``.
        case wait
    }

    /// What a caller that joins the wait does.
    enum Join {
        /// Ready meanwhile: no waiting.
        case ready(Session)
        /// Queued: resumed when the creator reports.
        case queued
        /// The creation failed meanwhile.
        case failed
    }

    private(set) var entries: [String: Entry] = [:]
    private var generation = 0

    mutating func lookup(_ gatewayID: String) -> Lookup {
        switch entries[gatewayID] {
        case .ready(let session, _):
            return .ready(session)
        case .creating:
            return .wait
        case nil:
            entries[gatewayID] = .creating([])
            generation += 1
            return .create(generation: generation)
        }
    }

    mutating func wait(_ waiter: Waiter, for gatewayID: String) -> Join {
        switch entries[gatewayID] {
        case .ready(let session, _):
            return .ready(session)
        case .creating(var waiters):
            waiters.append(waiter)
            entries[gatewayID] = .creating(waiters)
            return .queued
        case nil:
            return .failed
        }
    }

    /// The creator made the session: returns the waiters to resume with it.
    mutating func created(_ gatewayID: String, _ session: Session, generation: Int) -> [Waiter] {
        let waiters = takeWaiters(gatewayID)
        entries[gatewayID] = .ready(session, generation: generation)
        return waiters
    }

    /// The creation failed: returns the waiters to fail; the next caller tries again.
    mutating func failed(_ gatewayID: String) -> [Waiter] {
        let waiters = takeWaiters(gatewayID)
        entries[gatewayID] = nil
        return waiters
    }

    private func takeWaiters(_ gatewayID: String) -> [Waiter] {
        if case .creating(let waiters) = entries[gatewayID] { return waiters }
        return []
    }

    /// Drops the session if it is still generation `generation` (the upstream forgot it).
    mutating func invalidate(_ gatewayID: String, generation: Int) -> Session? {
        guard case .ready(let session, let current) = entries[gatewayID], current == generation else { return nil }
        entries[gatewayID] = nil
        return session
    }

    /// Drops whatever ready session the gateway has; one being created is left to its creator.
    mutating func remove(_ gatewayID: String) -> Session? {
        guard case .ready(let session, _) = entries[gatewayID] else { return nil }
        entries[gatewayID] = nil
        return session
    }

    /// Drops every ready session.
    mutating func removeAll() -> [Session] {
        var sessions: [Session] = []
        for (gatewayID, entry) in entries {
            if case .ready(let session, _) = entry {
                sessions.append(session)
                entries[gatewayID] = nil
            }
        }
        return sessions
    }
}
