/// Who is asking, through which endpoint, in which protocol version.
public struct MCPRequestContext: Sendable {
    /// The protocol version in force for this request.
    public var protocolVersion: String
    /// How the request's era differs (methods, envelope, results); chosen by the transport.
    public var era: any ClientEra
    /// The virtual server of the endpoint, or `nil` for `/mcp`.
    public var serverID: String?
    /// The authenticated subject.
    public var principal: String
    /// Where the upstream's in-call messages go (the client's response stream), if anywhere.
    public var relay: (any UpstreamCallRelay)?
    /// Client headers to pass to the upstream of a forwarded call (header passthrough).
    public var forwardedHeaders: [ForwardedHeader]
    /// The caller's ``Federation/hopsHeader``, as sent (`nil` from clients that are no gateway).
    public var hops: String?
    /// The caller a federating gateway vouched for (identity propagation), whom this gateway
    /// names in turn to its own peers; `nil` for direct clients (then ``principal`` is named).
    public var onBehalfOf: String?

    public init(
        protocolVersion: String,
        serverID: String?,
        principal: String,
        relay: (any UpstreamCallRelay)? = nil,
        forwardedHeaders: [ForwardedHeader] = [],
        hops: String? = nil,
        onBehalfOf: String? = nil,
        era: any ClientEra = HandshakeEra()
    ) {
        self.era = era
        self.onBehalfOf = onBehalfOf
        self.protocolVersion = protocolVersion
        self.serverID = serverID
        self.principal = principal
        self.relay = relay
        self.forwardedHeaders = forwardedHeaders
        self.hops = hops
    }
}

/// How the gateway introduces itself to clients.
public struct ServerIdentity: Sendable {
    public var name: String
    public var version: String
    public var instructions: String?
    /// The deployment's federation identity, advertised so that a peer of our kind recognises it.
    public var federation: Federation

    public init(name: String, version: String, instructions: String? = nil, federation: Federation = .none) {
        self.name = name
        self.version = version
        self.instructions = instructions
        self.federation = federation
    }

    /// The capabilities the gateway announces: it serves tools, resources, prompts, completions and
    /// logging, lists may change, and resources may be subscribed to (`resources/subscribe` in
    /// handshake-era sessions, `subscriptions/listen` in 2026-07-28); with a federation identity,
    /// `experimental` says it is a federating gateway and which one.
    public var capabilities: JSONValue {
        var capabilities: JSONObject = [
            "tools": ["listChanged": true],
            "resources": ["listChanged": true, "subscribe": true],
            "prompts": ["listChanged": true],
            "completions": [:],
            "logging": [:],
        ]
        if !federation.gatewayID.isEmpty {
            capabilities["experimental"] = .object(JSONObject([(Federation.capabilityKey, federation.capability)]))
        }
        return .object(capabilities)
    }

    /// `serverInfo` as sent in initialize and discover results (the display name as `title`).
    public var serverInfo: JSONValue {
        var info: JSONObject = ["name": .string(name), "version": .string(version)]
        if !federation.name.isEmpty { info["title"] = .string(federation.name) }
        return .object(info)
    }
}
