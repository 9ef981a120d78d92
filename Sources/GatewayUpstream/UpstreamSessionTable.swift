import GatewayCore
import Synchronization

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
    /// For streamable HTTP upstreams, the standalone GET stream the session listens on.
    var listener: SSEUpstreamConnection?
    /// Distinguishes sessions so a stale one is not invalidated twice.
    var generation: Int

    /// Ends the session's streams.
    func close(_ error: UpstreamError) {
        sseConnection?.close(error)
        listener?.close(error)
    }
}

/// One upstream session per gateway, created on first use by exactly one caller while the
/// others wait for it (never one initialize per call).
///
/// State lives behind a lock rather than in an actor: the common case, a session that exists, is
/// one lock and no executor hop on every forwarded call.
final class UpstreamSessionTable: Sendable {
    enum Entry {
        case ready(UpstreamSession)
        case creating([CheckedContinuation<UpstreamSession, any Error>])
    }

    struct State {
        var entries: [String: Entry] = [:]
        var generation = 0
    }

    private let state = Mutex(State())

    enum Step {
        case ready(UpstreamSession)
        case create(generation: Int)
        case wait
    }

    /// The session for `gatewayID`, creating it with `create` when there is none.
    func session(
        for gatewayID: String,
        create: (Int) async throws -> UpstreamSession
    ) async throws -> UpstreamSession {
        let step: Step = state.withLock { state in
            switch state.entries[gatewayID] {
            case .ready(let session):
                return .ready(session)
            case .creating:
                return .wait
            case nil:
                state.entries[gatewayID] = .creating([])
                state.generation += 1
                return .create(generation: state.generation)
            }
        }
        switch step {
        case .ready(let session):
            return session
        case .wait:
            return try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<UpstreamSession, any Error>? = state.withLock { state in
                    switch state.entries[gatewayID] {
                    case .ready(let session):
                        return .success(session)
                    case .creating(var waiters):
                        waiters.append(continuation)
                        state.entries[gatewayID] = .creating(waiters)
                        return nil
                    case nil:
                        // The creation failed in between; this caller fails like its waiters did.
                        return .failure(UpstreamError(.unreachable, "the upstream session could not be created"))
                    }
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        case .create(let generation):
            let result: Result<UpstreamSession, any Error>
            do {
                result = .success(try await create(generation))
            } catch {
                result = .failure(error)
            }
            let waiters: [CheckedContinuation<UpstreamSession, any Error>] = state.withLock { state in
                var waiters: [CheckedContinuation<UpstreamSession, any Error>] = []
                if case .creating(let queued) = state.entries[gatewayID] { waiters = queued }
                switch result {
                case .success(let session): state.entries[gatewayID] = .ready(session)
                case .failure: state.entries[gatewayID] = nil
                }
                return waiters
            }
            for waiter in waiters { waiter.resume(with: result) }
            return try result.get()
        }
    }

    /// Drops the session if it is still generation `generation` (the upstream forgot it).
    func invalidate(gatewayID: String, generation: Int) -> UpstreamSession? {
        state.withLock { state in
            guard case .ready(let session) = state.entries[gatewayID], session.generation == generation else {
                return nil
            }
            state.entries[gatewayID] = nil
            return session
        }
    }

    /// Drops whatever session the gateway has. A session being created is left alone: its
    /// creator settles it and its waiters.
    func remove(gatewayID: String) -> UpstreamSession? {
        state.withLock { state in
            guard case .ready(let session) = state.entries[gatewayID] else { return nil }
            state.entries[gatewayID] = nil
            return session
        }
    }

    /// Drops every ready session.
    func removeAll() -> [UpstreamSession] {
        state.withLock { state in
            var sessions: [UpstreamSession] = []
            for (gatewayID, entry) in state.entries {
                if case .ready(let session) = entry {
                    sessions.append(session)
                    state.entries[gatewayID] = nil
                }
            }
            return sessions
        }
    }
}
