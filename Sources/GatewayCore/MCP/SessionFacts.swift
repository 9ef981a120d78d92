/// The immutable facts of a stateful client session, carried inside its `Mcp-Session-Id`.
public struct SessionFacts: Sendable, Equatable {
    /// Random per-session key (hex), used to record the session's end.
    public var key: String
    public var protocolVersion: String
    public var subject: String
    /// The virtual server the session was opened on, or `nil` for `/mcp`.
    public var serverID: String?
    public var createdAt: Int64
    /// What the client declared it can be asked (sampling, elicitation, roots).
    public var capabilities: ClientCapabilities

    public init(
        key: String,
        protocolVersion: String,
        subject: String,
        serverID: String?,
        createdAt: Int64,
        capabilities: ClientCapabilities = []
    ) {
        self.key = key
        self.protocolVersion = protocolVersion
        self.subject = subject
        self.serverID = serverID
        self.createdAt = createdAt
        self.capabilities = capabilities
    }
}
