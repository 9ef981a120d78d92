import GatewayCore

/// Client connections to a session's streams (GET streams, resumed call streams).
extension SessionEngine {
    /// Attaches a connection to a stream of `session`, replacing any connection already there;
    /// in a cluster, other nodes send this stream's events here from now on (recorded before
    /// this returns, so a replay read afterwards misses nothing). `false` when the stream is a
    /// call stream that already ended.
    public func attach(_ queue: OutboundQueue, session: String, stream: String, serverID: String?) async -> Bool {
        let open = runtime.streams.attach(queue, session: session, stream: stream, serverID: serverID)
        await runtime.bus?.attached(session: session, stream: stream, serverID: serverID)
        return open
    }

    /// Detaches `queue` if it is still the stream's connection (the client went away).
    public func detach(_ queue: OutboundQueue, session: String, stream: String) {
        if runtime.streams.detach(queue, session: session, stream: stream) {
            runtime.bus?.detached(session: session, stream: stream)
        }
    }

    /// The events of the stream named by `eventID` after it, and whether that stream is over.
    public func replay(
        session: String,
        after eventID: String
    ) async -> (stream: String, events: [StreamEvent], completed: Bool)? {
        await runtime.streams.replay(session: session, after: eventID)
    }
}
