import Logging

/// Answers MCP requests from the catalog snapshot and forwards calls to the owning upstream.
/// Transport-independent: the HTTP layer hands it decoded envelopes and writes back the bytes it
/// returns. Sessions and eras are settled before a request gets here.
public struct MCPDispatcher: Sendable {
    public let catalog: CatalogHolder
    public let upstream: any UpstreamClient
    public let pagination: Pagination
    /// Deadline of one forwarded call (TOOL_TIMEOUT).
    public let upstreamTimeout: Duration
    public let identity: ServerIdentity
    /// Size limits on requests (params, `_meta`) and the JSON depth transports parse with.
    public let rules: ValidationRules
    /// Requests by method, and tool calls by tool, upstream and outcome.
    public let metrics: MCPMetrics
    /// Signs who a call is for, sent to peers with it (identity propagation); `nil`: off.
    public let identityAsserter: (any IdentityAsserting)?

    public init(
        catalog: CatalogHolder,
        upstream: any UpstreamClient,
        pagination: Pagination,
        upstreamTimeout: Duration,
        identity: ServerIdentity,
        rules: ValidationRules = ValidationRules(),
        metrics: MCPMetrics = MCPMetrics(),
        identityAsserter: (any IdentityAsserting)? = nil
    ) {
        self.identityAsserter = identityAsserter
        self.rules = rules
        self.metrics = metrics
        self.catalog = catalog
        self.upstream = upstream
        self.pagination = pagination
        self.upstreamTimeout = upstreamTimeout
        self.identity = identity
    }

    /// A complete JSON-RPC response, and the error code when the gateway itself produced an
    /// error (transports map some codes to HTTP statuses).
    public struct Reply: Sendable {
        public var bytes: [UInt8]
        public var errorCode: JSONRPCError.Code?

        public init(bytes: [UInt8], errorCode: JSONRPCError.Code? = nil) {
            self.bytes = bytes
            self.errorCode = errorCode
        }
    }

    /// Handles one request and returns the complete JSON-RPC response.
    public func handle(_ request: JSONRPCMessage, context: MCPRequestContext, logger: Logger) async -> Reply {
        let method = request.method ?? ""
        metrics.countRequest(method: method)
        logger.debug("mcp request", metadata: ["mcp.method": .string(method)])
        guard method == "tools/call" else { return await answer(request, context: context, logger: logger).reply }
        let started = ContinuousClock.now
        let (reply, outcome) = await answer(request, context: context, logger: logger)
        let (tool, upstream) = callLabels(request, serverID: context.serverID)
        metrics.recordCall(tool: tool, upstream: upstream, outcome: outcome, duration: started.duration(to: .now))
        return reply
    }

    /// The tool and upstream a call is counted under: catalog names only, `unknown` otherwise.
    func callLabels(_ request: JSONRPCMessage, serverID: String?) -> (tool: String, upstream: String) {
        let snapshot = catalog.snapshot
        guard let name = ParamsRewriter.stringMember("name", in: request),
            let route = snapshot.view(serverID: serverID)?.toolRoutes[name]
        else { return (MCPMetrics.unknown, MCPMetrics.unknown) }
        return (name, snapshot.gatewaysByID[route.target.gatewayID]?.name ?? route.target.gatewayID)
    }

    /// The response, and how the request ended (for tool-call metrics).
    func answer(
        _ request: JSONRPCMessage,
        context: MCPRequestContext,
        logger: Logger
    ) async -> (reply: Reply, outcome: MCPCallOutcome) {
        let id = request.id ?? .null
        do {
            try rules.checkLimits(of: request)
            let result = try await result(for: request, context: context, logger: logger)
            switch result {
            case .local(let bytes), .forwarded(.result(let bytes)):
                let outcome: MCPCallOutcome =
                    request.method == "tools/call" && ToolResult.isError(bytes) ? .toolError : .success
                let finished = context.era.finish(result: bytes, method: request.method ?? "")
                return (Reply(bytes: JSONRPCMessage.responseBytes(id: id, result: finished)), outcome)
            case .forwarded(.error(let bytes)):
                return (Reply(bytes: JSONRPCMessage.errorResponseBytes(id: id, error: bytes)), .error)
            }
        } catch let error as JSONRPCError {
            return (Reply(bytes: error.answering(id).responseBytes, errorCode: error.code), .error)
        } catch let error as UpstreamError where Task.isCancelled {
            logger.debug(
                "request cancelled",
                metadata: ["mcp.method": .string(request.method ?? ""), "upstream.error": .string(error.description)]
            )
            let failure = JSONRPCError(code: .requestCancelled, message: "Request cancelled", id: id)
            return (Reply(bytes: failure.responseBytes, errorCode: failure.code), .cancelled)
        } catch is CancellationError {
            let failure = JSONRPCError(code: .requestCancelled, message: "Request cancelled", id: id)
            return (Reply(bytes: failure.responseBytes, errorCode: failure.code), .cancelled)
        } catch let error as UpstreamError {
            logger.warning(
                "upstream call failed",
                metadata: ["mcp.method": .string(request.method ?? ""), "upstream.error": .string(error.description)]
            )
            let failure = JSONRPCError(code: .upstreamError, message: "Upstream error: \(error.message)", id: id)
            return (
                Reply(bytes: failure.responseBytes, errorCode: failure.code),
                error.code == .timeout ? .timeout : .error
            )
        } catch {
            logger.error("request failed", metadata: ["mcp.method": .string(request.method ?? "")])
            let failure = JSONRPCError.internalError("the request could not be completed", id: id)
            return (Reply(bytes: failure.responseBytes, errorCode: failure.code), .error)
        }
    }

    /// Whether `method` is answered by an upstream (and may stream messages back while it runs).
    public static func isForwarded(_ method: String) -> Bool {
        switch method {
        case "tools/call", "prompts/get", "resources/read", "completion/complete": true
        default: false
        }
    }

    enum Outcome {
        case local([UInt8])
        case forwarded(UpstreamReply)
    }

    func result(for request: JSONRPCMessage, context: MCPRequestContext, logger: Logger) async throws -> Outcome {
        let method = request.method ?? ""
        guard let view = catalog.snapshot.view(serverID: context.serverID) else {
            throw JSONRPCError(code: .invalidRequest, message: "Virtual server not found or disabled")
        }
        let era = context.era
        switch method {
        case "ping" where era.answers(method), "logging/setLevel" where era.answers(method):
            return .local(Array("{}".utf8))
        case "server/discover" where era.answers(method):
            return .local(discoverResult())
        case "tools/list":
            return .local(try list("tools", view.tools, request))
        case "resources/list":
            return .local(try list("resources", view.resources, request))
        case "resources/templates/list":
            return .local(try list("resourceTemplates", view.resourceTemplates, request))
        case "prompts/list":
            return .local(try list("prompts", view.prompts, request))
        case "tools/call":
            return try await forwardNamed(request, routes: view.toolRoutes, kind: "tool", context: context)
        case "prompts/get":
            return try await forwardNamed(request, routes: view.promptRoutes, kind: "prompt", context: context)
        case "resources/read":
            guard let uri = ParamsRewriter.stringMember("uri", in: request) else {
                throw JSONRPCError.invalidParams("\"uri\" is required and must be a string")
            }
            guard let target = view.resourceTarget(for: uri) else {
                throw JSONRPCError(code: .resourceNotFound, message: "Resource not found", data: ["uri": .string(uri)])
            }
            return .forwarded(try await forward(target, request, context: context))
        case "completion/complete":
            return try await complete(request, view: view, context: context)
        default:
            throw JSONRPCError.methodNotFound(method)
        }
    }

    func list(_ key: StaticString, _ items: [[UInt8]], _ request: JSONRPCMessage) throws(JSONRPCError) -> [UInt8] {
        var cursor: String?
        if let value = ParamsRewriter.member("cursor", in: request), !value.isNull {
            guard let text = value.stringValue else { throw JSONRPCError.invalidParams("\"cursor\" must be a string") }
            cursor = text
        }
        let (page, next) = try pagination.page(items, cursor: cursor)
        var writer = JSONWriter(capacity: 64 + page.reduce(0) { $0 + $1.count + 1 })
        writer.raw("{\"")
        writer.raw(key)
        writer.raw("\":[")
        for (offset, item) in page.enumerated() {
            if offset > 0 { writer.raw(",") }
            writer.raw(item)
        }
        writer.raw("]")
        if let next {
            writer.raw(",\"nextCursor\":")
            writer.string(next)
        }
        writer.raw("}")
        return writer.bytes
    }

    func forwardNamed(
        _ request: JSONRPCMessage,
        routes: [String: ItemRoute],
        kind: String,
        context: MCPRequestContext
    ) async throws -> Outcome {
        guard let name = ParamsRewriter.stringMember("name", in: request) else {
            throw JSONRPCError.invalidParams("\"name\" is required and must be a string")
        }
        guard let route = routes[name] else {
            throw JSONRPCError(code: .invalidParams, message: "Unknown \(kind): \(name)")
        }
        let originalName = ParamsRewriter.jsonString(route.originalName)
        return .forwarded(try await forward(route.target, request, replacing: ("name", originalName), context: context))
    }

    func complete(_ request: JSONRPCMessage, view: CatalogView, context: MCPRequestContext) async throws -> Outcome {
        guard case .object(var reference)? = ParamsRewriter.member("ref", in: request),
            let type = reference["type"]?.stringValue
        else {
            throw JSONRPCError.invalidParams("\"ref\" must be an object with a \"type\"")
        }
        switch type {
        case "ref/prompt":
            guard let name = reference["name"]?.stringValue, let route = view.promptRoutes[name] else {
                throw JSONRPCError.invalidParams("Unknown prompt in \"ref\"")
            }
            reference["name"] = .string(route.originalName)
            let rewritten = JSONValue.object(reference).serializedBytes
            return .forwarded(try await forward(route.target, request, replacing: ("ref", rewritten), context: context))
        case "ref/resource":
            guard let uri = reference["uri"]?.stringValue, let target = view.resourceTarget(for: uri) else {
                throw JSONRPCError.invalidParams("Unknown resource in \"ref\"")
            }
            return .forwarded(try await forward(target, request, context: context))
        default:
            throw JSONRPCError.invalidParams("Unsupported \"ref\" type: \(type)")
        }
    }

    /// Sends the request upstream with its params rewritten once: `replacement` substituted, and
    /// the client era's envelope removed (upstream sessions speak the handshake era).
    func forward(
        _ target: UpstreamTarget,
        _ request: JSONRPCMessage,
        replacing replacement: (key: String, value: [UInt8])? = nil,
        context: MCPRequestContext
    ) async throws -> UpstreamReply {
        let params = ParamsRewriter.forwardedParams(
            of: request,
            replacing: replacement,
            strippingEnvelope: context.era.carriesEnvelope
        )
        let hops = try identity.federation.onwardHops(received: context.hops)
        let gateway = catalog.snapshot.gatewaysByID[target.gatewayID]
        // Stdio upstreams run one process per node: each node's own supervisor fails their calls
        // at once when it gave up, and one node's crash must not stop the others' calls.
        if let gateway, !gateway.reachable, gateway.transport != .stdio {
            throw JSONRPCError(
                code: .upstreamError,
                message: "Upstream '\(gateway.name)' is unreachable (it failed its health checks); try again later",
                data: ["gateway": .string(gateway.name), "reachable": false]
            )
        }
        var target = target
        if !context.forwardedHeaders.isEmpty {
            // The upstream's own credentials win over a client header of the same name (the
            // federation headers never get this far: ``HeaderPassthrough/forbidden``).
            let taken = Set(target.auth.headers.map { $0.name.lowercased() })
            target.forwardedHeaders = context.forwardedHeaders.filter { !taken.contains($0.name.lowercased()) }
        }
        target.forwardedHeaders.append(ForwardedHeader(name: Federation.hopsHeader, value: String(hops)))
        if let identityAsserter, let peer = gateway?.peerGatewayID,
            let credential = target.auth.headers.first(where: { $0.name.lowercased() == "authorization" })?.value,
            let assertion = await identityAsserter.assertion(
                subject: context.onBehalfOf ?? context.principal,
                audience: peer,
                credential: credential
            )
        {
            target.forwardedHeaders.append(ForwardedHeader(name: Federation.identityHeader, value: assertion))
        }
        return try await upstream.forward(
            target,
            method: request.method ?? "",
            params: params,
            timeout: upstreamTimeout,
            relay: context.relay
        )
    }

    /// The result of `server/discover` (2026-07-28).
    public func discoverResult() -> [UInt8] {
        var result = JSONObject([
            ("supportedVersions", .array(ProtocolVersions.all.map { .string($0) })),
            ("capabilities", identity.capabilities),
            ("resultType", "complete"), ("ttlMs", 0), ("cacheScope", "private"),
            ("_meta", ["io.modelcontextprotocol/serverInfo": identity.serverInfo]),
        ])
        if let instructions = identity.instructions { result["instructions"] = .string(instructions) }
        return JSONValue.object(result).serializedBytes
    }

    /// The result of `initialize` for the negotiated version (every transport answers
    /// `initialize` through here, so this is where it is counted).
    public func initializeResult(protocolVersion: String) -> [UInt8] {
        metrics.countRequest(method: "initialize")
        var result = JSONObject([
            ("protocolVersion", .string(protocolVersion)),
            ("capabilities", identity.capabilities),
            ("serverInfo", identity.serverInfo),
        ])
        if let instructions = identity.instructions { result["instructions"] = .string(instructions) }
        return JSONValue.object(result).serializedBytes
    }
}
