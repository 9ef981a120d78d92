import GatewayCore

/// What the gateway knows about its session with one upstream.
struct UpstreamSession: Sendable {
    /// `Mcp-Session-Id` the upstream issued, if any.
    var sessionID: String?
    /// The protocol version the upstream agreed to.
    var protocolVersion: String
    /// Its capabilities and server info from initialize.
    var capabilities: JSONValue
    var serverInfo: JSONValue
    /// For legacy SSE upstreams, the live connection carrying responses.
    var sseConnection: SSEUpstreamConnection?
    /// Distinguishes sessions so a stale one is not invalidated twice.
    var generation: Int
}

/// One upstream session per gateway, created on first use by exactly one caller while the
/// others wait for it (never one initialize per call).
actor UpstreamSessionTable {
    enum Entry {
        case ready(UpstreamSession)
        case creating([CheckedContinuation<UpstreamSession, any Error>])
    }

    private var entries: [String: Entry] = [:]
    private var generation = 0

    /// The session for `gatewayID`, creating it with `create` when there is none.
    func session(
        for gatewayID: String, create: @Sendable (Int) async throws -> UpstreamSession
    ) async throws -> UpstreamSession {
        switch entries[gatewayID] {
        case .ready(let session):
            return session
        case .creating(var waiters):
            return try await withCheckedThrowingContinuation { continuation in
                waiters.append(continuation)
                entries[gatewayID] = .creating(waiters)
            }
        case nil:
            entries[gatewayID] = .creating([])
            generation += 1
            let result: Result<UpstreamSession, any Error>
            do {
                result = .success(try await create(generation))
            } catch {
                result = .failure(error)
            }
            // Re-read after the await: waiters may have joined, or the entry been released.
            let waiters: [CheckedContinuation<UpstreamSession, any Error>]
            if case .creating(let queued) = entries[gatewayID] { waiters = queued } else { waiters = [] }
            switch result {
            case .success(let session):
                entries[gatewayID] = .ready(session)
                for waiter in waiters { waiter.resume(returning: session) }
                return session
            case .failure(let error):
                entries[gatewayID] = nil
                for waiter in waiters { waiter.resume(throwing: error) }
                throw error
            }
        }
    }

    /// Drops the session if it is still generation `generation` (the upstream forgot it).
    func invalidate(gatewayID: String, generation: Int) -> UpstreamSession? {
        guard case .ready(let session) = entries[gatewayID], session.generation == generation else { return nil }
        entries[gatewayID] = nil
        return session
    }

    /// Drops whatever session the gateway has.
    func remove(gatewayID: String) -> UpstreamSession? {
        // A session being created is left alone: its creator settles it and its waiters.
        guard case .ready(let session) = entries[gatewayID] else { return nil }
        entries[gatewayID] = nil
        return session
    }

    /// Drops every session.
    func removeAll() -> [UpstreamSession] {
        var sessions: [UpstreamSession] = []
        for (gatewayID, entry) in entries {
            if case .ready(let session) = entry {
                sessions.append(session)
                entries[gatewayID] = nil
            }
        }
        return sessions
    }
}
