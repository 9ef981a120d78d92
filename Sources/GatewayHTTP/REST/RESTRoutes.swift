import GatewayAuth
import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// The registry's REST API, compatible with ContextForge's paths, field names and status codes.
/// Registered twice: at the root and under `/v1`.
public struct RESTRoutes: Sendable {
    public let registry: Registry
    public let store: any Store
    /// Largest REST request body accepted.
    public let maximumBodyBytes: Int
    public let version: String
    /// Deadline of upstream reads made for the API (TOOL_TIMEOUT).
    public let upstreamTimeout: Duration
    /// Where changes are recorded (who changed what).
    public let audit: AuditTrail?
    /// Reads request bodies within BODY_READ_TIMEOUT.
    public let bodyReader: RequestBodyReader

    public init(
        registry: Registry,
        store: any Store,
        maximumBodyBytes: Int,
        version: String,
        upstreamTimeout: Duration,
        audit: AuditTrail? = nil,
        bodyReader: RequestBodyReader = RequestBodyReader(timeout: .seconds(30))
    ) {
        self.bodyReader = bodyReader
        self.registry = registry
        self.store = store
        self.maximumBodyBytes = maximumBodyBytes
        self.version = version
        self.upstreamTimeout = upstreamTimeout
        self.audit = audit
    }

    /// Records a successful change made by the request's principal.
    func audited(_ context: GatewayRequestContext, _ action: String, _ type: String, _ id: String, name: String? = nil)
    {
        audit?.record(
            AuditEntry(
                at: .now(),
                actor: context.principal?.subject ?? "anonymous",
                action: action,
                targetType: type,
                targetID: id,
                clientIP: context.peerIP,
                detail: name.map { ["name": .string($0)] }
            )
        )
    }

    var catalog: CatalogHolder { registry.catalog }
    var rules: ValidationRules { registry.rules }

    /// The request body as a JSON object, within the body limit and VALIDATION_MAX_JSON_DEPTH.
    func body(_ request: Request) async throws -> JSONObject {
        try await RequestJSON.object(
            request,
            limit: maximumBodyBytes,
            depth: rules.maximumJSONDepth,
            reader: bodyReader
        )
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.serializedBytes))
        )
    }

    /// Registers every route on `group`.
    public func register(on group: RouterGroup<GatewayRequestContext>) {
        group.get("health") { _, _ in Self.json(["status": "healthy"]) }
        // Degraded is still ready (200): the node serves what it can (reads from its snapshot,
        // calls on known sessions), and taking every node out of a load balancer because a shared
        // dependency is down would turn a partial outage into a total one.
        group.get("ready") { _, _ -> Response in
            var problems: [JSONValue] = []
            do {
                try await store.ping()
            } catch {
                problems.append("store unreachable: writes are refused, reads are served from the last snapshot")
            }
            if let reason = registry.coordinator.degradedReason() {
                problems.append(.string(reason + ": cross-node state and leader work are paused"))
            }
            if problems.isEmpty { return Self.json(["status": "ready"]) }
            return Self.json(["status": "degraded", "detail": .array(problems)])
        }
        group.get("version") { _, _ in
            Self.json([
                "app": ["name": "mcp-gateway-swift", "version": .string(version)],
                "mcp": ["protocolVersions": .array(ProtocolVersions.all.map { .string($0) })],
            ])
        }
        registerGateways(on: group.group("gateways"))
        registerItems(on: group)
        registerServers(on: group.group("servers"))
        registerExportImport(on: group)
    }

    /// A stdio upstream is a process the gateway runs on its own host: only admin tokens may
    /// register one or change its command.
    static func requireAdminForProcesses(_ context: GatewayRequestContext) throws {
        guard try context.requirePrincipal().isAdmin else {
            throw ProblemError(
                .forbidden,
                "STDIO upstreams run a command on the gateway's host: they need an admin token"
            )
        }
    }

    static func limit(_ request: Request) throws -> Int? {
        guard let text = request.uri.queryParameters.get("limit") else { return 50 }
        guard let limit = Int(text), limit >= 0 else {
            throw ProblemError.invalid("limit", "must be a non-negative integer")
        }
        return limit == 0 ? nil : limit
    }

    static func includeInactive(_ request: Request) -> Bool {
        request.uri.queryParameters.get("include_inactive")?.lowercased() == "true"
    }

    static func list<T>(_ items: [T], _ request: Request, _ render: (T) -> JSONValue) throws -> Response {
        let limit = try limit(request)
        let page = limit.map { Array(items.prefix($0)) } ?? items
        return json(.array(page.map(render)))
    }

    /// A `true`/`false` (or `1`/`0`) query parameter; anything else is a 422 naming it.
    static func flag(_ key: String, in request: Request, default value: Bool) throws -> Bool {
        guard let text = request.uri.queryParameters.get(key) else { return value }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw ProblemError.invalid(key, "must be true or false")
        }
    }

    func registerGateways(on group: RouterGroup<GatewayRequestContext>) {
        group.get { request, _ in
            let snapshot = catalog.snapshot
            let all = Self.includeInactive(request)
            return try Self.list(snapshot.contents.gateways.filter { all || $0.enabled }, request, RecordJSON.gateway)
        }
        group.post { request, context in
            let input = try InputParser.gatewayInput(try await body(request), rules: rules)
            if input.transport == .stdio { try Self.requireAdminForProcesses(context) }
            let gateway = try await registry.registerGateway(input)
            audited(context, "gateway.create", "gateway", gateway.id, name: gateway.name)
            return Self.json(RecordJSON.gateway(gateway))
        }
        group.get(":id") { _, context in
            let id = try context.parameters.require("id")
            guard let gateway = catalog.snapshot.gatewaysByID[id] else {
                throw ProblemError.notFound("Gateway not found: \(id)")
            }
            return Self.json(RecordJSON.gateway(gateway))
        }
        group.put(":id") { request, context in
            let id = try context.parameters.require("id")
            guard catalog.snapshot.gatewaysByID[id] != nil else {
                throw ProblemError.notFound("Gateway not found: \(id)")
            }
            let update = try InputParser.gatewayUpdate(try await body(request), rules: rules)
            if update.command != nil || update.transport == .stdio { try Self.requireAdminForProcesses(context) }
            let gateway = try await registry.updateGateway(id: id, update)
            audited(context, "gateway.update", "gateway", id, name: gateway.name)
            return Self.json(RecordJSON.gateway(gateway))
        }
        group.delete(":id") { _, context in
            let id = try context.parameters.require("id")
            try await registry.deleteGateway(id: id)
            audited(context, "gateway.delete", "gateway", id)
            return Self.json(["status": "success", "message": .string("Gateway \(id) deleted")])
        }
        group.post(":id/state") { request, context in
            let id = try context.parameters.require("id")
            let activate = try Self.flag("activate", in: request, default: true)
            let gateway = try await registry.setGatewayEnabled(id: id, enabled: activate)
            audited(context, activate ? "gateway.activate" : "gateway.deactivate", "gateway", id, name: gateway.name)
            return Self.json([
                "status": "success", "message": .string("Gateway \(id) \(activate ? "activated" : "deactivated")"),
                "gateway": RecordJSON.gateway(gateway),
            ])
        }
    }

    func registerItems(on group: RouterGroup<GatewayRequestContext>) {
        group.get("tools") { request, _ in
            let snapshot = catalog.snapshot
            let all = Self.includeInactive(request)
            let tools = snapshot.contents.tools.filter {
                all || ($0.enabled && snapshot.gatewaysByID[$0.gatewayID]?.enabled == true)
            }
            return try Self.list(tools, request) { RecordJSON.tool($0, gateway: snapshot.gatewaysByID[$0.gatewayID]) }
        }
        group.get("tools/:id") { _, context in
            let id = try context.parameters.require("id")
            let snapshot = catalog.snapshot
            guard let tool = snapshot.toolsByID[id] else { throw ProblemError.notFound("Tool not found: \(id)") }
            return Self.json(RecordJSON.tool(tool, gateway: snapshot.gatewaysByID[tool.gatewayID]))
        }
        group.get("resources") { request, _ in
            let snapshot = catalog.snapshot
            let all = Self.includeInactive(request)
            let resources = snapshot.contents.resources.filter {
                all || ($0.enabled && snapshot.gatewaysByID[$0.gatewayID]?.enabled == true)
            }
            return try Self.list(resources, request, RecordJSON.resource)
        }
        group.get("resources/templates/list") { request, _ in
            let snapshot = catalog.snapshot
            let templates = snapshot.contents.resourceTemplates.filter {
                snapshot.gatewaysByID[$0.gatewayID]?.enabled == true
            }
            return Self.json(["resourceTemplates": .array(templates.map(RecordJSON.template))])
        }
        group.get("resources/:id/info") { _, context in
            let id = try context.parameters.require("id")
            guard let resource = catalog.snapshot.resourcesByID[id] else {
                throw ProblemError.notFound("Resource not found: \(id)")
            }
            return Self.json(RecordJSON.resource(resource))
        }
        group.get("resources/:id") { _, context in
            let id = try context.parameters.require("id")
            let snapshot = catalog.snapshot
            guard let resource = snapshot.resourcesByID[id], let gateway = snapshot.gatewaysByID[resource.gatewayID]
            else {
                throw ProblemError.notFound("Resource not found: \(id)")
            }
            return Self.json(try await read(resource, from: gateway))
        }
        group.get("prompts") { request, _ in
            let snapshot = catalog.snapshot
            let all = Self.includeInactive(request)
            let prompts = snapshot.contents.prompts.filter {
                all || ($0.enabled && snapshot.gatewaysByID[$0.gatewayID]?.enabled == true)
            }
            return try Self.list(prompts, request, RecordJSON.prompt)
        }
        group.get("prompts/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let prompt = catalog.snapshot.promptsByID[id] else {
                throw ProblemError.notFound("Prompt not found: \(id)")
            }
            return Self.json(RecordJSON.prompt(prompt))
        }
    }

    /// Reads a resource's content from its upstream, in ContextForge's `ResourceContent` shape.
    func read(_ resource: ResourceRecord, from gateway: GatewayRecord) async throws -> JSONValue {
        guard gateway.enabled else { throw ProblemError(.serviceUnavailable, "The resource's gateway is disabled") }
        let target = gateway.target
        let params: JSONValue = ["uri": .string(resource.uri)]
        let reply: UpstreamReply
        do {
            reply = try await registry.upstream.forward(
                target,
                method: "resources/read",
                params: params.serializedBytes,
                timeout: upstreamTimeout,
                relay: nil
            )
        } catch let error as UpstreamError {
            throw ProblemError(.badGateway, "The upstream could not be read: \(error.message)", title: "Upstream error")
        }
        guard case .result(let bytes) = reply, let result = try? JSONScanner.parse(bytes),
            case .object(var content)? = result["contents"]?.arrayValue?.first
        else {
            throw ProblemError(.badGateway, "The upstream did not return the resource", title: "Upstream error")
        }
        content["type"] = "resource"
        content["id"] = .string(resource.id)
        return .object(content)
    }

    func registerServers(on group: RouterGroup<GatewayRequestContext>) {
        group.get { request, _ in
            let all = Self.includeInactive(request)
            return try Self.list(
                catalog.snapshot.contents.servers.filter { all || $0.enabled },
                request,
                RecordJSON.server
            )
        }
        group.post { request, context in
            let input = try InputParser.serverInput(try await body(request), creating: true, rules: rules)
            let server = try await registry.createServer(input)
            audited(context, "server.create", "server", server.id, name: server.name)
            return Self.json(RecordJSON.server(server), status: .created)
        }
        group.get(":id") { _, context in
            let id = try context.parameters.require("id")
            guard let server = catalog.snapshot.serversByID[id] else {
                throw ProblemError.notFound("Server not found: \(id)")
            }
            return Self.json(RecordJSON.server(server))
        }
        group.put(":id") { request, context in
            let id = try context.parameters.require("id")
            guard catalog.snapshot.serversByID[id] != nil else {
                throw ProblemError.notFound("Server not found: \(id)")
            }
            let input = try InputParser.serverInput(try await body(request), creating: false, rules: rules)
            let server = try await registry.updateServer(id: id, input)
            audited(context, "server.update", "server", id, name: server.name)
            return Self.json(RecordJSON.server(server))
        }
        group.delete(":id") { _, context in
            let id = try context.parameters.require("id")
            try await registry.deleteServer(id: id)
            audited(context, "server.delete", "server", id)
            return Self.json(["status": "success", "message": .string("Server \(id) deleted")])
        }
        group.post(":id/state") { request, context in
            let id = try context.parameters.require("id")
            let activate = try Self.flag("activate", in: request, default: true)
            let server = try await registry.setServerEnabled(id: id, enabled: activate)
            audited(context, activate ? "server.activate" : "server.deactivate", "server", id, name: server.name)
            return Self.json(RecordJSON.server(server))
        }
        group.get(":id/tools") { _, context in
            let id = try context.parameters.require("id")
            let snapshot = catalog.snapshot
            guard let server = snapshot.serversByID[id] else { throw ProblemError.notFound("Server not found: \(id)") }
            let tools = server.toolIDs.compactMap { snapshot.toolsByID[$0] }
            return Self.json(.array(tools.map { RecordJSON.tool($0, gateway: snapshot.gatewaysByID[$0.gatewayID]) }))
        }
    }
}
