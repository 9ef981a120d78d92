/// A validated request to register an upstream.
public struct GatewayInput: Sendable {
    public var name: String
    public var url: String
    public var transport: UpstreamTransport
    public var description: String?
    public var auth: UpstreamAuth
    /// The process to run (STDIO only; `url` is then its display form).
    public var command: StdioCommand?
    /// Seconds between the leader's re-listings (`sync_interval`); `nil` follows the default.
    public var syncInterval: Int?

    public init(
        name: String,
        url: String,
        transport: UpstreamTransport,
        description: String?,
        auth: UpstreamAuth,
        command: StdioCommand? = nil,
        syncInterval: Int? = nil
    ) {
        self.syncInterval = syncInterval
        self.name = name
        self.url = url
        self.transport = transport
        self.description = description
        self.auth = auth
        self.command = command
    }
}

/// A validated partial update of an upstream: `nil` leaves a field as it is.
public struct GatewayUpdate: Sendable {
    public var name: String?
    public var url: String?
    public var transport: UpstreamTransport?
    public var description: String??
    public var auth: UpstreamAuth?
    public var command: StdioCommand?
    /// A new re-listing interval; `.some(nil)` returns to the default.
    public var syncInterval: Int??

    public init(
        name: String? = nil,
        url: String? = nil,
        transport: UpstreamTransport? = nil,
        description: String?? = nil,
        auth: UpstreamAuth? = nil,
        command: StdioCommand? = nil
    ) {
        self.name = name
        self.url = url
        self.transport = transport
        self.description = description
        self.auth = auth
        self.command = command
    }
}

/// A validated virtual server definition; for updates, `nil` leaves a field as it is.
public struct ServerInput: Sendable {
    public var name: String?
    public var description: String??
    public var icon: String??
    public var toolIDs: [String]?
    public var resourceIDs: [String]?
    public var promptIDs: [String]?

    public init(
        name: String?,
        description: String??,
        icon: String??,
        toolIDs: [String]?,
        resourceIDs: [String]?,
        promptIDs: [String]?
    ) {
        self.name = name
        self.description = description
        self.icon = icon
        self.toolIDs = toolIDs
        self.resourceIDs = resourceIDs
        self.promptIDs = promptIDs
    }
}
