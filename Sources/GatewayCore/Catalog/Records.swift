import Foundation

/// How the gateway talks to an upstream MCP server.
public struct UpstreamTransport: Sendable, Hashable, CustomStringConvertible {
    /// ContextForge's spelling: `STREAMABLEHTTP`, `SSE`.
    public let rawValue: String

    private init(rawValue: String) { self.rawValue = rawValue }

    /// Streamable HTTP (2025-03-26 and later).
    public static let streamableHTTP = Self(rawValue: "STREAMABLEHTTP")
    /// Legacy HTTP+SSE (2024-11-05).
    public static let sse = Self(rawValue: "SSE")
    /// A local process speaking MCP on its standard input and output.
    public static let stdio = Self(rawValue: "STDIO")

    /// The transports this build supports.
    public static let all: [Self] = [.streamableHTTP, .sse, .stdio]

    /// Parses ContextForge's names, case-insensitively (`streamablehttp`, `STREAMABLE_HTTP`, `sse`).
    public init?(parsing text: String) {
        switch text.uppercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "") {
        case "STREAMABLEHTTP", "HTTP": self = .streamableHTTP
        case "SSE": self = .sse
        case "STDIO": self = .stdio
        default: return nil
        }
    }

    public var description: String { rawValue }
}

/// The process of a stdio upstream: what to run, with which arguments and extra environment.
public struct StdioCommand: Sendable, Hashable {
    /// An executable path, or a name looked up in `PATH`.
    public var command: String
    public var arguments: [String]
    /// Added to the gateway's environment (which the process otherwise inherits).
    public var environment: [String: String]

    public init(command: String, arguments: [String] = [], environment: [String: String] = [:]) {
        self.command = command
        self.arguments = arguments
        self.environment = environment
    }

    /// As stored: `{"command", "args", "env"}`.
    public var json: JSONValue {
        .object(
            JSONObject([
                ("command", .string(command)), ("args", .array(arguments.map { .string($0) })),
                (
                    "env",
                    .object(JSONObject(environment.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
                ),
            ])
        )
    }

    /// Reads the stored form; `nil` if it is not one.
    public init?(json: JSONValue) {
        guard let command = json["command"]?.stringValue else { return nil }
        self.command = command
        self.arguments = (json["args"]?.arrayValue ?? []).compactMap(\.stringValue)
        var environment: [String: String] = [:]
        for (key, value) in json["env"]?.objectValue?.members ?? [] {
            if let text = value.stringValue { environment[key] = text }
        }
        self.environment = environment
    }

    /// The `url` shown for a stdio gateway: `stdio:` and the command line.
    public var displayURL: String { "stdio:" + ([command] + arguments).joined(separator: " ") }
}

/// Credentials the gateway presents to an upstream.
public struct UpstreamAuth: Sendable, Hashable {
    /// `none`, `bearer`, `basic` or `authheaders`, as ContextForge names them.
    public var type: String
    /// Header name/value pairs sent on every upstream request.
    public var headers: [(name: String, value: String)]

    public init(type: String, headers: [(name: String, value: String)]) {
        self.type = type
        self.headers = headers
    }

    /// No credentials.
    public static let none = UpstreamAuth(type: "none", headers: [])

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.type == rhs.type
            && lhs.headers.map { "\($0.name):\($0.value)" } == rhs.headers.map { "\($0.name):\($0.value)" }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(type)
        for header in headers {
            hasher.combine(header.name)
            hasher.combine(header.value)
        }
    }
}

/// A registered upstream MCP server ("gateway" in ContextForge's API).
public struct GatewayRecord: Sendable, Hashable {
    public var id: String
    public var name: String
    public var slug: String
    public var url: String
    public var description: String?
    public var transport: UpstreamTransport
    public var enabled: Bool
    public var reachable: Bool
    /// The capabilities the upstream announced at initialize.
    public var capabilities: JSONValue
    /// The protocol version the upstream agreed to.
    public var protocolVersion: String?
    /// Credentials for calls to the upstream. Never returned by the API.
    public var auth: UpstreamAuth
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var lastSeen: Timestamp?
    /// The process to run, for stdio upstreams.
    public var command: StdioCommand?
    /// Seconds between the leader's re-listings of this upstream; `nil` follows
    /// `FEDERATION_SYNC_INTERVAL`.
    public var syncInterval: Int?

    public init(
        id: String,
        name: String,
        slug: String,
        url: String,
        description: String?,
        transport: UpstreamTransport,
        enabled: Bool,
        reachable: Bool,
        capabilities: JSONValue,
        protocolVersion: String?,
        auth: UpstreamAuth,
        createdAt: Timestamp,
        updatedAt: Timestamp,
        lastSeen: Timestamp?,
        command: StdioCommand? = nil,
        syncInterval: Int? = nil
    ) {
        self.syncInterval = syncInterval
        self.id = id
        self.name = name
        self.slug = slug
        self.url = url
        self.description = description
        self.transport = transport
        self.enabled = enabled
        self.reachable = reachable
        self.capabilities = capabilities
        self.protocolVersion = protocolVersion
        self.auth = auth
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastSeen = lastSeen
        self.command = command
    }

    /// The gateway id of a federating gateway of our kind (a peer), from the capabilities it
    /// announced; `nil` for any other MCP server.
    public var peerGatewayID: String? { Federation.peerGatewayID(in: capabilities) }

    /// Where and how to reach this upstream.
    public var target: UpstreamTarget {
        UpstreamTarget(gatewayID: id, url: url, transport: transport, auth: auth, command: command)
    }
}

/// Tools and prompts: upstream items that clients see under a qualified name.
public protocol NamedItemRecord: Sendable {
    var id: String { get }
    var gatewayID: String { get }
    var originalName: String { get }
    var name: String { get }
    var definition: JSONObject { get }
    var enabled: Bool { get }
    var createdAt: Timestamp { get }

    init(
        id: String,
        gatewayID: String,
        originalName: String,
        name: String,
        definition: JSONObject,
        enabled: Bool,
        createdAt: Timestamp
    )
}

/// A tool discovered on an upstream.
public struct ToolRecord: NamedItemRecord, Hashable {
    public var id: String
    public var gatewayID: String
    /// The name the upstream uses.
    public var originalName: String
    /// The collision-free name clients see: `<gateway-slug><separator><originalName>`.
    public var name: String
    /// The upstream's tool object exactly as discovered (name, title, description, inputSchema,
    /// outputSchema, annotations, _meta, ...).
    public var definition: JSONObject
    public var enabled: Bool
    public var createdAt: Timestamp

    public init(
        id: String,
        gatewayID: String,
        originalName: String,
        name: String,
        definition: JSONObject,
        enabled: Bool,
        createdAt: Timestamp
    ) {
        self.id = id
        self.gatewayID = gatewayID
        self.originalName = originalName
        self.name = name
        self.definition = definition
        self.enabled = enabled
        self.createdAt = createdAt
    }
}

/// A resource discovered on an upstream. Resource URIs are not renamed: clients follow URIs found
/// in tool results, so they must stay the upstream's.
public struct ResourceRecord: Sendable, Hashable {
    public var id: String
    public var gatewayID: String
    public var uri: String
    public var definition: JSONObject
    public var enabled: Bool
    public var createdAt: Timestamp

    public init(id: String, gatewayID: String, uri: String, definition: JSONObject, enabled: Bool, createdAt: Timestamp)
    {
        self.id = id
        self.gatewayID = gatewayID
        self.uri = uri
        self.definition = definition
        self.enabled = enabled
        self.createdAt = createdAt
    }
}

/// A resource template discovered on an upstream.
public struct ResourceTemplateRecord: Sendable, Hashable {
    public var id: String
    public var gatewayID: String
    public var uriTemplate: String
    public var definition: JSONObject
    public var createdAt: Timestamp

    public init(id: String, gatewayID: String, uriTemplate: String, definition: JSONObject, createdAt: Timestamp) {
        self.id = id
        self.gatewayID = gatewayID
        self.uriTemplate = uriTemplate
        self.definition = definition
        self.createdAt = createdAt
    }
}

/// A prompt discovered on an upstream; named like tools.
public struct PromptRecord: NamedItemRecord, Hashable {
    public var id: String
    public var gatewayID: String
    public var originalName: String
    public var name: String
    public var definition: JSONObject
    public var enabled: Bool
    public var createdAt: Timestamp

    public init(
        id: String,
        gatewayID: String,
        originalName: String,
        name: String,
        definition: JSONObject,
        enabled: Bool,
        createdAt: Timestamp
    ) {
        self.id = id
        self.gatewayID = gatewayID
        self.originalName = originalName
        self.name = name
        self.definition = definition
        self.enabled = enabled
        self.createdAt = createdAt
    }
}

/// A virtual server: a curated subset of the catalog with its own MCP endpoint.
public struct VirtualServerRecord: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String?
    public var icon: String?
    public var toolIDs: [String]
    public var resourceIDs: [String]
    public var promptIDs: [String]
    public var enabled: Bool
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        id: String,
        name: String,
        description: String?,
        icon: String?,
        toolIDs: [String],
        resourceIDs: [String],
        promptIDs: [String],
        enabled: Bool,
        createdAt: Timestamp,
        updatedAt: Timestamp
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.icon = icon
        self.toolIDs = toolIDs
        self.resourceIDs = resourceIDs
        self.promptIDs = promptIDs
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What discovery found on one upstream.
public struct DiscoveredCatalog: Sendable, Hashable {
    public var tools: [JSONObject]
    public var resources: [JSONObject]
    public var resourceTemplates: [JSONObject]
    public var prompts: [JSONObject]
    public var capabilities: JSONValue
    public var protocolVersion: String
    public var serverInfo: JSONValue

    public init(
        tools: [JSONObject],
        resources: [JSONObject],
        resourceTemplates: [JSONObject],
        prompts: [JSONObject],
        capabilities: JSONValue,
        protocolVersion: String,
        serverInfo: JSONValue
    ) {
        self.tools = tools
        self.resources = resources
        self.resourceTemplates = resourceTemplates
        self.prompts = prompts
        self.capabilities = capabilities
        self.protocolVersion = protocolVersion
        self.serverInfo = serverInfo
    }
}

/// Everything the store holds, as loaded for a catalog snapshot.
public struct CatalogContents: Sendable, Equatable {
    public var gateways: [GatewayRecord]
    public var tools: [ToolRecord]
    public var resources: [ResourceRecord]
    public var resourceTemplates: [ResourceTemplateRecord]
    public var prompts: [PromptRecord]
    public var servers: [VirtualServerRecord]

    public init(
        gateways: [GatewayRecord] = [],
        tools: [ToolRecord] = [],
        resources: [ResourceRecord] = [],
        resourceTemplates: [ResourceTemplateRecord] = [],
        prompts: [PromptRecord] = [],
        servers: [VirtualServerRecord] = []
    ) {
        self.gateways = gateways
        self.tools = tools
        self.resources = resources
        self.resourceTemplates = resourceTemplates
        self.prompts = prompts
        self.servers = servers
    }
}
