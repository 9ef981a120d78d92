import GatewayCore

/// The live, per-node side of client sessions: calls in flight (for cancellation), requests put
/// to clients on behalf of upstreams, and log levels. Everything here lives only as long as the
/// node; the sealed session id carries what must survive it.
public final class SessionRuntime: Sendable {
    let pending: PendingClientRequests
    let inFlight = InFlightCalls()
    let logLevels = SessionLogLevels()
    /// Pings open streams; run it as a service.
    public let keepAlive: StreamKeepAlive
    /// Most messages waiting on one client stream before notifications are dropped and requests
    /// to the client refused (MCP_STREAM_QUEUE_SIZE).
    public let streamCapacity: Int

    /// - Parameter nodeID: makes the ids of requests to clients unique in a cluster.
    public init(nodeID: String, streamCapacity: Int = 1024, keepAliveInterval: Duration = .seconds(15)) {
        self.pending = PendingClientRequests(prefix: "gw-" + nodeID.prefix(8))
        self.streamCapacity = streamCapacity
        self.keepAlive = StreamKeepAlive(interval: keepAliveInterval)
    }
}
