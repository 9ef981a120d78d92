import GatewayCore

/// The live, per-node side of client sessions: calls in flight (for cancellation), requests put
/// to clients on behalf of upstreams, log levels, open streams and their replay buffer. The
/// sealed session id carries what must survive the node.
public final class SessionRuntime: Sendable {
    package let pending: PendingClientRequests
    /// This node's short id (8 characters), as named in request ids and `requestState`s.
    package let nodeID: String
    /// Calls of 2026-07-28 clients waiting for the client's retry with its input.
    package let inputRounds = InputRounds()
    package let inFlight = InFlightCalls()
    package let logLevels = SessionLogLevels()
    /// Pings open streams; run it as a service.
    public let keepAlive: StreamKeepAlive
    /// The sessions' streams and their replay buffer.
    package let streams: SessionStreams
    package let subscriptions: ResourceSubscriptions
    /// Upstream subscriptions nobody watches any more, waiting to be released
    /// (``SessionEngine/releaseUpstreams()``); beyond 10,000 waiting, a release is dropped (the
    /// upstream only sends a few needless updates).
    package let upstreamReleases = BatchQueue<ResourceSubscriptions.Key>(capacity: 10_000)
    /// Legacy HTTP+SSE and WebSocket sessions.
    package let connections: ConnectionSessions
    /// Most messages waiting on one client stream before notifications are dropped and requests
    /// to the client refused (MCP_STREAM_QUEUE_SIZE).
    public let streamCapacity: Int
    /// Most bytes waiting on one client stream (MCP_STREAM_QUEUE_BYTES).
    public let streamBytes: Int

    /// Session traffic to and from other nodes (cluster mode).
    public let bus: (any SessionBus)?

    /// - Parameters:
    ///   - nodeID: makes the ids of requests to clients unique in a cluster (its first 8
    ///     characters name the node in them).
    ///   - bus: carries session traffic between nodes; `nil` for one node.
    ///   - eventLog: the replay buffer; `replayRetention` is also how long a session whose GET
    ///     stream dropped keeps collecting events for it.
    ///   - subscriptionsPerSession: most resource subscriptions one session may hold.
    ///   - connectionSessions: most legacy SSE and WebSocket sessions open on this node.
    public init(
        nodeID: String,
        streamCapacity: Int = 1024,
        streamBytes: Int = 16 << 20,
        keepAliveInterval: Duration = .seconds(15),
        eventLog: any SessionEventLog,
        replayRetention: Duration,
        bus: (any SessionBus)? = nil,
        subscriptionsPerSession: Int = 256,
        connectionSessions: Int = 10_000
    ) {
        self.subscriptions = ResourceSubscriptions(perSessionLimit: subscriptionsPerSession)
        self.connections = ConnectionSessions(capacity: connectionSessions)
        self.pending = PendingClientRequests(prefix: ClientRequestID.prefix(nodeID: nodeID))
        self.nodeID = String(nodeID.prefix(8))
        self.streamCapacity = streamCapacity
        self.streamBytes = streamBytes
        self.keepAlive = StreamKeepAlive(interval: keepAliveInterval)
        self.streams = SessionStreams(log: eventLog, retention: replayRetention, bus: bus)
        self.bus = bus
    }

    /// MCP calls in flight on this node (reported as the node's load).
    public var callsInFlight: Int { inFlight.count }

    /// Sessions with live state on this node: streamable HTTP sessions with a stream here, and
    /// legacy SSE and WebSocket sessions. (A stateful session that only posts has none: its state
    /// is sealed in its id.)
    public var openSessions: Int { streams.counts.sessions + connections.count }

    /// Client streams attached on this node: GET and call streams of streamable HTTP sessions,
    /// and legacy SSE and WebSocket connections.
    public var openStreams: Int { streams.counts.streams + connections.count }

    /// An upstream announced a change to a resource: every session subscribed to it hears of it
    /// on its GET stream.
    public func resourceUpdated(gatewayID: String, uri: String, notification: [UInt8]) {
        for session in subscriptions.sessions(for: .init(gatewayID: gatewayID, uri: uri)) {
            streams.deliver(notification, session: session, stream: StreamName.get)
        }
    }
}
