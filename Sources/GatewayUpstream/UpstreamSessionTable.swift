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
    typealias Waiter = CheckedContinuation<UpstreamSession, any Error>
    private let state = Mutex(UpstreamSessionTableStateMachine<UpstreamSession, Waiter>())

    /// The session for `gatewayID`, creating it with `create` when there is none.
    func session(
        for gatewayID: String,
        create: (Int) async throws -> UpstreamSession
    ) async throws -> UpstreamSession {
        switch state.withLock({ $0.lookup(gatewayID) }) {
        case .ready(let session):
            return session
        case .wait:
            return try await withCheckedThrowingContinuation { continuation in
                switch state.withLock({ $0.wait(continuation, for: gatewayID) }) {
                case .ready(let session): continuation.resume(returning: session)
                case .queued: break
                case .failed:
                    // The creation failed in between; this caller fails like its waiters did.
                    continuation.resume(
                        throwing: UpstreamError(.unreachable, "the upstream session could not be created")
                    )
                }
            }
        case .create(let generation):
            do {
                let session = try await create(generation)
                let waiters = state.withLock { $0.created(gatewayID, session, generation: generation) }
                for waiter in waiters { waiter.resume(returning: session) }
                return session
            } catch {
                let waiters = state.withLock { $0.failed(gatewayID) }
                for waiter in waiters { waiter.resume(throwing: error) }
                throw error
            }
        }
    }

    /// Drops the session if it is still generation `generation` (the upstream forgot it).
    func invalidate(gatewayID: String, generation: Int) -> UpstreamSession? {
        state.withLock { $0.invalidate(gatewayID, generation: generation) }
    }

    /// Drops whatever session the gateway has. A session being created is left alone: its
    /// creator settles it and its waiters.
    func remove(gatewayID: String) -> UpstreamSession? {
        state.withLock { $0.remove(gatewayID) }
    }

    /// Drops every ready session.
    func removeAll() -> [UpstreamSession] {
        state.withLock { $0.removeAll() }
    }
}
