/// Who is asking, through which endpoint, in which protocol version.
public struct MCPRequestContext: Sendable {
    /// The protocol version in force for this request.
    public var protocolVersion: String
    /// The virtual server of the endpoint, or `nil` for `/mcp`.
    public var serverID: String?
    /// The authenticated subject.
    public var principal: String
    /// Where the upstream's in-call messages go (the client's response stream), if anywhere.
    public var relay: (any UpstreamCallRelay)?
    /// Client headers to pass to the upstream of a forwarded call (header passthrough).
    public var forwardedHeaders: [ForwardedHeader]

    public init(
        protocolVersion: String,
        serverID: String?,
        principal: String,
        relay: (any UpstreamCallRelay)? = nil,
        forwardedHeaders: [ForwardedHeader] = []
    ) {
        self.protocolVersion = protocolVersion
        self.serverID = serverID
        self.principal = principal
        self.relay = relay
        self.forwardedHeaders = forwardedHeaders
    }
}

/// How the gateway introduces itself to clients.
public struct ServerIdentity: Sendable {
    public var name: String
    public var version: String
    public var instructions: String?

    public init(name: String, version: String, instructions: String? = nil) {
        self.name = name
        self.version = version
        self.instructions = instructions
    }

    /// The capabilities the gateway announces: it serves tools, resources, prompts, completions and
    /// logging, lists may change, and resources may be subscribed to (`resources/subscribe` in
    /// handshake-era sessions, `subscriptions/listen` in 2026-07-28).
    public var capabilities: JSONValue {
        [
            "tools": ["listChanged": true],
            "resources": ["listChanged": true, "subscribe": true],
            "prompts": ["listChanged": true],
            "completions": [:],
            "logging": [:],
        ]
    }

    /// `serverInfo` as sent in initialize and discover results.
    public var serverInfo: JSONValue { ["name": .string(name), "version": .string(version)] }
}
