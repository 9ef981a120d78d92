/// How to reach the upstream that owns an item, and the name the upstream knows it by.
public struct ItemRoute: Sendable {
    public var target: UpstreamTarget
    public var originalName: String
}

/// What one MCP endpoint shows: the whole catalog (`/mcp`) or one virtual server
/// (`/servers/{id}/mcp`). Lists are pre-serialised in the form clients receive, sorted by name.
public struct CatalogView: Sendable {
    /// Client-facing tool objects (names qualified), in list order.
    public let tools: [[UInt8]]
    public let toolRoutes: [String: ItemRoute]
    public let resources: [[UInt8]]
    public let resourceRoutes: [String: UpstreamTarget]
    public let resourceTemplates: [[UInt8]]
    /// Template URI prefixes (up to the first `{`) with their owners, longest first.
    public let templateRoutes: [(prefix: String, target: UpstreamTarget)]
    public let prompts: [[UInt8]]
    public let promptRoutes: [String: ItemRoute]

    /// The upstream that serves `uri`: an exact resource, else the template with the longest
    /// matching literal prefix.
    public func resourceTarget(for uri: String) -> UpstreamTarget? {
        if let target = resourceRoutes[uri] { return target }
        return templateRoutes.first(where: { !$0.prefix.isEmpty && uri.hasPrefix($0.prefix) })?.target
    }
}

/// An immutable picture of the registry, rebuilt whenever it changes and swapped atomically, so
/// requests read it without touching the store. A class, so taking the current snapshot on the
/// hot path is one reference count, not a copy of every table.
public final class CatalogSnapshot: Sendable {
    public let contents: CatalogContents
    public let gatewaysByID: [String: GatewayRecord]
    public let toolsByID: [String: ToolRecord]
    public let resourcesByID: [String: ResourceRecord]
    public let promptsByID: [String: PromptRecord]
    public let serversByID: [String: VirtualServerRecord]
    /// The view of `/mcp`.
    public let fullView: CatalogView
    let serverViews: [String: CatalogView]

    /// The view of a virtual server's endpoint; `nil` when the server is unknown or disabled.
    public func view(serverID: String?) -> CatalogView? {
        guard let serverID else { return fullView }
        return serverViews[serverID]
    }

    /// The gateway whose name, or whose name's slug, `name` would take (other than `id`): a
    /// registration or rename under `name` is a conflict with it.
    public func gateway(clashingWith name: String, except id: String? = nil) -> GatewayRecord? {
        let slug = Naming.slug(name)
        return contents.gateways.first { $0.id != id && ($0.name == name || $0.slug == slug) }
    }

    /// The virtual server named `name` (other than `id`).
    public func server(named name: String, except id: String? = nil) -> VirtualServerRecord? {
        contents.servers.first { $0.id != id && $0.name == name }
    }

    /// An empty catalog.
    public static let empty = CatalogSnapshot(contents: CatalogContents())

    /// - Parameter federation: whose origin path the listed items carry (this deployment's id is
    ///   appended to each item's path in `_meta`); ``Federation/none`` stamps nothing.
    public init(contents: CatalogContents, federation: Federation = .none) {
        self.contents = contents
        let gateways = Dictionary(contents.gateways.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.gatewaysByID = gateways
        self.toolsByID = Dictionary(contents.tools.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.resourcesByID = Dictionary(contents.resources.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.promptsByID = Dictionary(contents.prompts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.serversByID = Dictionary(contents.servers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

        func live(_ gatewayID: String) -> GatewayRecord? {
            guard let gateway = gateways[gatewayID], gateway.enabled else { return nil }
            return gateway
        }
        let liveTools = contents.tools.filter { $0.enabled && live($0.gatewayID) != nil }
        let liveResources = contents.resources.filter { $0.enabled && live($0.gatewayID) != nil }
        let liveTemplates = contents.resourceTemplates.filter { live($0.gatewayID) != nil }
        let livePrompts = contents.prompts.filter { $0.enabled && live($0.gatewayID) != nil }

        self.fullView = Self.makeView(
            tools: liveTools,
            resources: liveResources,
            templates: liveTemplates,
            prompts: livePrompts,
            gateways: gateways,
            federation: federation
        )
        var serverViews: [String: CatalogView] = [:]
        for server in contents.servers where server.enabled {
            let toolIDs = Set(server.toolIDs)
            let resourceIDs = Set(server.resourceIDs)
            let promptIDs = Set(server.promptIDs)
            // A virtual server exposes exactly the resources it lists. Templates are not members
            // a server can list yet, so it exposes none: listing one resource of an upstream
            // must not open every URI that upstream's templates match.
            serverViews[server.id] = Self.makeView(
                tools: liveTools.filter { toolIDs.contains($0.id) },
                resources: liveResources.filter { resourceIDs.contains($0.id) },
                templates: [],
                prompts: livePrompts.filter { promptIDs.contains($0.id) },
                gateways: gateways,
                federation: federation
            )
        }
        self.serverViews = serverViews
    }

    static func target(_ gateway: GatewayRecord) -> UpstreamTarget {
        gateway.target
    }

    static func makeView(
        tools: [ToolRecord],
        resources: [ResourceRecord],
        templates: [ResourceTemplateRecord],
        prompts: [PromptRecord],
        gateways: [String: GatewayRecord],
        federation: Federation
    ) -> CatalogView {
        var toolRoutes: [String: ItemRoute] = [:]
        var toolJSON: [[UInt8]] = []
        for tool in tools.sorted(by: { $0.name < $1.name }) {
            guard let gateway = gateways[tool.gatewayID], toolRoutes[tool.name] == nil else { continue }
            toolRoutes[tool.name] = ItemRoute(target: target(gateway), originalName: tool.originalName)
            var definition = federation.stamped(tool.definition)
            definition["name"] = .string(tool.name)
            toolJSON.append(JSONValue.object(definition).serializedBytes)
        }
        var resourceRoutes: [String: UpstreamTarget] = [:]
        var resourceJSON: [[UInt8]] = []
        for resource in resources.sorted(by: { ($0.createdAt, $0.uri) < ($1.createdAt, $1.uri) }) {
            guard let gateway = gateways[resource.gatewayID], resourceRoutes[resource.uri] == nil else { continue }
            resourceRoutes[resource.uri] = target(gateway)
            resourceJSON.append(JSONValue.object(federation.stamped(resource.definition)).serializedBytes)
        }
        var templateRoutes: [(prefix: String, target: UpstreamTarget)] = []
        var templateJSON: [[UInt8]] = []
        for template in templates.sorted(by: { ($0.createdAt, $0.uriTemplate) < ($1.createdAt, $1.uriTemplate) }) {
            guard let gateway = gateways[template.gatewayID] else { continue }
            let prefix = String(template.uriTemplate.prefix(while: { $0 != "{" }))
            templateRoutes.append((prefix, target(gateway)))
            templateJSON.append(JSONValue.object(federation.stamped(template.definition)).serializedBytes)
        }
        templateRoutes.sort { $0.prefix.count > $1.prefix.count }
        var promptRoutes: [String: ItemRoute] = [:]
        var promptJSON: [[UInt8]] = []
        for prompt in prompts.sorted(by: { $0.name < $1.name }) {
            guard let gateway = gateways[prompt.gatewayID], promptRoutes[prompt.name] == nil else { continue }
            promptRoutes[prompt.name] = ItemRoute(target: target(gateway), originalName: prompt.originalName)
            var definition = federation.stamped(prompt.definition)
            definition["name"] = .string(prompt.name)
            promptJSON.append(JSONValue.object(definition).serializedBytes)
        }
        return CatalogView(
            tools: toolJSON,
            toolRoutes: toolRoutes,
            resources: resourceJSON,
            resourceRoutes: resourceRoutes,
            resourceTemplates: templateJSON,
            templateRoutes: templateRoutes,
            prompts: promptJSON,
            promptRoutes: promptRoutes
        )
    }
}
