/// Where and how to reach one upstream.
public struct UpstreamTarget: Sendable, Hashable {
    public var gatewayID: String
    public var url: String
    public var transport: UpstreamTransport
    public var auth: UpstreamAuth
    /// The process to run, for stdio upstreams.
    public var command: StdioCommand?
    /// Client headers allowed through (``HeaderPassthrough``) for this one call; never used for
    /// the upstream session's own requests.
    public var forwardedHeaders: [ForwardedHeader] = []

    public init(
        gatewayID: String,
        url: String,
        transport: UpstreamTransport,
        auth: UpstreamAuth,
        command: StdioCommand? = nil
    ) {
        self.gatewayID = gatewayID
        self.url = url
        self.transport = transport
        self.auth = auth
        self.command = command
    }
}

/// An upstream's answer to a forwarded request: its `result` or its `error`, as raw JSON.
public enum UpstreamReply: Sendable, Equatable {
    case result([UInt8])
    case error([UInt8])

    /// The complete JSON-RPC response answering `id`.
    public func responseBytes(id: JSONRPCID) -> [UInt8] {
        switch self {
        case .result(let result): JSONRPCMessage.responseBytes(id: id, result: result)
        case .error(let error): JSONRPCMessage.errorResponseBytes(id: id, error: error)
        }
    }
}

/// Talks to upstream MCP servers: discovery at registration, and forwarding of client requests.
/// Implementations pool connections and upstream sessions (one initialize per upstream session,
/// not per call).
public protocol UpstreamClient: Sendable {
    /// Connects, initializes, and lists everything the upstream offers, following cursors.
    func discover(_ target: UpstreamTarget, timeout: Duration) async throws -> DiscoveredCatalog
    /// Sends one request and returns the upstream's reply. What the upstream sends during the call
    /// (notifications, requests to the client) goes to `relay`; without one, notifications are
    /// dropped and requests answered with an error. Cancelling the calling task cancels the
    /// upstream request (`notifications/cancelled`).
    func forward(
        _ target: UpstreamTarget,
        method: String,
        params: [UInt8]?,
        timeout: Duration,
        relay: (any UpstreamCallRelay)?
    ) async throws -> UpstreamReply
    /// Forgets any session held for the gateway (after delete or update).
    func release(gatewayID: String) async

    /// What upstreams send outside any call (list changes, resource updates), and changes in
    /// their health the client notices itself (a stdio process that keeps failing), in arrival
    /// order. One consumer.
    var events: AsyncStream<UpstreamEvent> { get }
}

/// Something an upstream did outside any call.
public enum UpstreamEvent: Sendable {
    /// A notification it sent on its own (the complete JSON-RPC message).
    case notification(gatewayID: String, message: JSONRPCMessage)
    /// It became unreachable (`reachable: false`, with the reason) or reachable again.
    case health(gatewayID: String, reachable: Bool, reason: String)
    /// Its new session speaks another protocol era than its last one: re-list it (its record's
    /// `protocolVersion` comes from the listing).
    case eraChanged(gatewayID: String, protocolVersion: String)
}

/// A failure to get an answer from an upstream (as opposed to an answer that is an error).
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let rawValue: String
        public var description: String { rawValue }
        public static let unreachable = Code(rawValue: "unreachable")
        public static let timeout = Code(rawValue: "timeout")
        public static let protocolViolation = Code(rawValue: "protocol_violation")
        public static let httpStatus = Code(rawValue: "http_status")
        public static let tooLarge = Code(rawValue: "too_large")
        /// The SSRF guard refused the address.
        public static let blocked = Code(rawValue: "blocked")
    }

    public var code: Code
    /// Safe to show a client or operator: no credentials, no upstream response bodies.
    public var message: String
    /// The HTTP status the upstream answered with (``Code/httpStatus``).
    public var status: Int?

    public init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { "upstream \(code): \(message)" }
}
