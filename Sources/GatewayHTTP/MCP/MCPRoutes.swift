import ExtrasBase64
import Foundation
import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The streamable HTTP endpoint for MCP clients, at `/mcp` (whole catalog) and
/// `/servers/{id}/mcp` (one virtual server), in both protocol eras:
/// - 2026-07-28 (stateless): every request carries its version; no session.
/// - 2025-11-25 and earlier (stateful): `initialize` issues a sealed `Mcp-Session-Id` that every
///   later request must carry; DELETE ends it.
public struct MCPRoutes: Sendable {
    /// Handles every client message, whichever transport brought it.
    public let engine: SessionEngine
    public var dispatcher: MCPDispatcher { engine.dispatcher }
    /// Deepest JSON nesting accepted in a client message (VALIDATION_MAX_JSON_DEPTH).
    var jsonDepth: Int { dispatcher.rules.maximumJSONDepth }
    public let sealer: SessionSealer
    public let coordinator: any Coordinator
    /// Largest MCP request body accepted.
    public let maximumBodyBytes: Int
    /// The longest a stateful session lives (SESSION_TTL); ended sessions are remembered as long.
    public var sessionTTL: Duration { engine.sessionTTL }
    /// Calls in flight, requests waiting for clients, log levels.
    public var runtime: SessionRuntime { engine.runtime }
    /// Reads request bodies within BODY_READ_TIMEOUT.
    public let bodyReader: RequestBodyReader
    /// Client headers passed to upstreams on forwarded calls, when enabled.
    public let passthrough: HeaderPassthrough?
    /// What one client may hold and send on WebSocket connections.
    public var connectionLimits = ConnectionLimits()
    /// Tells 2026-07-28 calls that their client closed the request (put ``ClientDisconnects/watcher()``
    /// in the HTTP/1 pipeline).
    public let disconnects = ClientDisconnects()

    public init(
        dispatcher: MCPDispatcher,
        sealer: SessionSealer,
        coordinator: any Coordinator,
        maximumBodyBytes: Int,
        sessionTTL: Duration,
        runtime: SessionRuntime,
        bodyReader: RequestBodyReader = RequestBodyReader(timeout: .seconds(30)),
        passthrough: HeaderPassthrough? = nil
    ) {
        self.passthrough = passthrough
        self.bodyReader = bodyReader
        self.engine = SessionEngine(
            dispatcher: dispatcher,
            runtime: runtime,
            sessionTTL: sessionTTL,
            requestStates: sealer.requestStates
        )
        self.sealer = sealer
        self.coordinator = coordinator
        self.maximumBodyBytes = maximumBodyBytes
    }

    static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!
    static let versionHeader = HTTPField.Name("MCP-Protocol-Version")!
    static let methodHeader = HTTPField.Name("Mcp-Method")!
    static let hopsHeader = HTTPField.Name(Federation.hopsHeader)!
    static let nameHeader = HTTPField.Name("Mcp-Name")!
    static let lastEventIDHeader = HTTPField.Name("Last-Event-ID")!

    public func register(on router: Router<GatewayRequestContext>) {
        router.post("mcp") { request, context in await post(request, context: context, serverID: nil) }
        router.get("mcp") { request, context in await get(request, context: context, serverID: nil) }
        router.delete("mcp") { request, context in try await delete(request, context: context, serverID: nil) }
        router.post("servers/:id/mcp") { request, context in
            await post(request, context: context, serverID: try context.parameters.require("id"))
        }
        router.get("servers/:id/mcp") { request, context in
            await get(request, context: context, serverID: try context.parameters.require("id"))
        }
        router.delete("servers/:id/mcp") { request, context in
            try await delete(request, context: context, serverID: try context.parameters.require("id"))
        }
        router.post("rpc") { request, context in await rpc(request, context: context) }
        registerLegacySSE(on: router)
        announceCatalogChanges()
    }

    // MARK: - POST

    /// The request's headers that header passthrough lets through to upstreams.
    func forwardedHeaders(of request: Request) -> [ForwardedHeader] {
        guard let passthrough else { return [] }
        return passthrough.select(request.headers.lazy.map { (name: $0.name.rawName, value: $0.value) })
    }

    /// The gateways a forwarded request has crossed, as its caller sent them (peers only).
    static func hops(of request: Request) -> String? {
        request.headers[hopsHeader]
    }

    /// The whole request body, up to `maximumBodyBytes`, within the body read timeout.
    func body(of request: Request) async throws(RequestBodyError) -> [UInt8] {
        var buffer = try await bodyReader.collect(request, limit: maximumBodyBytes)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    func post(_ request: Request, context: GatewayRequestContext, serverID: String?) async -> Response {
        if let serverID, dispatcher.catalog.snapshot.view(serverID: serverID) == nil {
            return MCPReply.error(
                JSONRPCError.invalidRequest("virtual server not found: \(serverID)"),
                status: .notFound
            )
        }
        let bytes: [UInt8]
        do { bytes = try await body(of: request) } catch { return error.response }
        let principal = context.principal?.subject ?? "anonymous"
        let headerVersion = request.headers[Self.versionHeader]
        if let headerVersion, !ProtocolVersions.all.contains(headerVersion) {
            let error = JSONRPCError(
                code: .unsupportedVersion,
                message: "Unsupported protocol version",
                data: [
                    "supported": .array(ProtocolVersions.all.map { .string($0) }), "requested": .string(headerVersion),
                ]
            )
            return MCPReply.error(error, status: .badRequest)
        }
        if headerVersion == ProtocolVersions.stateless {
            return await stateless(
                request,
                bytes: bytes,
                serverID: serverID,
                principal: principal,
                caller: context.principal?.onBehalfOf,
                connection: context.channel,
                logger: context.logger
            )
        }
        return await stateful(
            request,
            bytes: bytes,
            serverID: serverID,
            principal: principal,
            caller: context.principal?.onBehalfOf,
            logger: context.logger
        )
    }

    /// 2026-07-28: one self-contained request per POST.
    func stateless(
        _ request: Request,
        bytes: [UInt8],
        serverID: String?,
        principal: String,
        caller: String?,
        connection: any Channel,
        logger: Logger
    ) async
        -> Response
    {
        func fail(_ error: JSONRPCError) -> Response {
            MCPReply.error(error, status: MCPReply.statelessStatus(error.code))
        }
        if JSONRPCMessage.isBatch(bytes) {
            return fail(JSONRPCError.invalidRequest("batches are not allowed in protocol version 2026-07-28"))
        }
        let message: JSONRPCMessage
        do { message = try JSONRPCMessage(bytes: bytes, maximumDepth: jsonDepth) } catch { return fail(error) }
        guard message.kind == .request, let method = message.method else { return MCPReply.accepted() }
        let envelope: StatelessEra.Envelope
        switch StatelessEra.envelope(of: message, method: method, headers: request.headers) {
        case .success(let read): envelope = read
        case .failure(let error): return fail(error)
        }
        let context = MCPRequestContext(
            protocolVersion: ProtocolVersions.stateless,
            serverID: serverID,
            principal: principal,
            forwardedHeaders: forwardedHeaders(of: request),
            hops: Self.hops(of: request),
            onBehalfOf: caller,
            era: StatelessEra()
        )
        if method == "subscriptions/listen" { return await listen(message, serverID: serverID, request: request) }
        return await handle(
            message,
            from: .request(logLevel: envelope.logLevel, capabilities: envelope.capabilities),
            context: context,
            request: request,
            status: { $0.errorCode.map(MCPReply.statelessStatus) ?? .ok },
            cancelledBy: connection,
            logger: logger
        )
    }

    /// 2025-11-25 and earlier: `initialize` opens a session; everything else must carry it.
    func stateful(
        _ request: Request,
        bytes: [UInt8],
        serverID: String?,
        principal: String,
        caller: String?,
        logger: Logger
    ) async
        -> Response
    {
        if JSONRPCMessage.isBatch(bytes) {
            return await batch(
                request,
                bytes: bytes,
                serverID: serverID,
                principal: principal,
                caller: caller,
                logger: logger
            )
        }
        let message: JSONRPCMessage
        do { message = try JSONRPCMessage(bytes: bytes, maximumDepth: jsonDepth) } catch {
            return MCPReply.error(error, status: .badRequest)
        }
        if message.method == "initialize", message.kind == .request {
            return initialize(request, message: message, serverID: serverID, principal: principal)
        }
        let facts: SessionFacts
        switch await session(request, serverID: serverID, principal: principal, answering: message.id) {
        case .success(let opened): facts = opened
        case .failure(let failure): return failure.response
        }
        let context = MCPRequestContext(
            protocolVersion: facts.protocolVersion,
            serverID: serverID,
            principal: principal,
            forwardedHeaders: forwardedHeaders(of: request),
            hops: Self.hops(of: request),
            onBehalfOf: caller
        )
        return await handle(
            message,
            from: .sealed(facts),
            context: context,
            request: request,
            status: { _ in .ok },
            logger: logger
        )
    }

    func batch(
        _ request: Request,
        bytes: [UInt8],
        serverID: String?,
        principal: String,
        caller: String?,
        logger: Logger
    ) async -> Response {
        let facts: SessionFacts
        switch await session(request, serverID: serverID, principal: principal) {
        case .success(let opened): facts = opened
        case .failure(let failure): return failure.response
        }
        guard ProtocolVersions.allowsBatch(facts.protocolVersion) else {
            return MCPReply.error(
                JSONRPCError.invalidRequest("batches are not allowed in protocol version \(facts.protocolVersion)"),
                status: .badRequest
            )
        }
        let elements: [[UInt8]]
        do { elements = try JSONRPCMessage.splitBatch(bytes, maximumDepth: jsonDepth) } catch {
            return MCPReply.error(error, status: .badRequest)
        }
        let context = MCPRequestContext(
            protocolVersion: facts.protocolVersion,
            serverID: serverID,
            principal: principal,
            forwardedHeaders: forwardedHeaders(of: request),
            hops: Self.hops(of: request),
            onBehalfOf: caller
        )
        var responses: [[UInt8]] = []
        for element in elements {
            let message: JSONRPCMessage
            do { message = try JSONRPCMessage(bytes: element, maximumDepth: jsonDepth) } catch {
                responses.append(error.responseBytes)
                continue
            }
            // The same engine as single messages; calls in a batch relay nothing (the answer is one JSON array).
            switch await engine.handle(
                message,
                from: .sealed(facts),
                context: context,
                logger: logger,
                sink: { _ in
                    SessionEngine.CallSink(send: nil)
                }
            ) {
            case .answered(let reply): responses.append(reply.bytes)
            case .running(let call):
                // Its request's own: cancelled with it, as when it ran inline.
                let reply = await withTaskCancellationHandler {
                    await call.value
                } onCancel: {
                    call.cancel()
                }
                responses.append(reply.bytes)
            case .consumed, .unexpectedAnswer: break
            }
        }
        if responses.isEmpty { return MCPReply.accepted() }
        var writer = JSONWriter()
        writer.raw("[")
        for (offset, response) in responses.enumerated() {
            if offset > 0 { writer.raw(",") }
            writer.raw(response)
        }
        writer.raw("]")
        return MCPReply.message(writer.bytes, request: request)
    }

    func initialize(_ request: Request, message: JSONRPCMessage, serverID: String?, principal: String) -> Response {
        let requested = ParamsRewriter.stringMember("protocolVersion", in: message)
        let version = ProtocolVersions.negotiate(requested)
        let facts = SessionFacts(
            key: SessionSealer.newKey(),
            protocolVersion: version,
            subject: principal,
            serverID: serverID,
            createdAt: Timestamp.now().millisecondsSince1970,
            capabilities: ClientCapabilities(declared: ParamsRewriter.member("capabilities", in: message))
        )
        let sessionID: String
        do { sessionID = try sealer.seal(facts) } catch {
            return MCPReply.error(
                JSONRPCError.internalError("cannot create a session", id: message.id),
                status: .internalServerError
            )
        }
        let result = dispatcher.initializeResult(protocolVersion: version)
        var headers = HTTPFields()
        headers[Self.sessionHeader] = sessionID
        return MCPReply.message(
            JSONRPCMessage.responseBytes(id: message.id ?? .null, result: result),
            request: request,
            headers: headers
        )
    }

    struct SessionFailure: Error {
        let response: Response
    }

    /// Opens the request's session: 400 when missing or when `MCP-Protocol-Version` is not the
    /// session's, 404 when unknown, ended, or opened on another endpoint or by another principal.
    func session(
        _ request: Request,
        serverID: String?,
        principal: String,
        answering id: JSONRPCID? = nil
    ) async -> Result<SessionFacts, SessionFailure> {
        guard let sessionID = request.headers[Self.sessionHeader] else {
            return .failure(
                SessionFailure(
                    response: MCPReply.error(
                        JSONRPCError.invalidRequest("missing Mcp-Session-Id header; send initialize first"),
                        status: .badRequest
                    )
                )
            )
        }
        let notFound = SessionFailure(
            response: MCPReply.error(
                JSONRPCError(code: .invalidRequest, message: "Session not found"),
                status: .notFound
            )
        )
        guard let facts = sealer.open(sessionID), facts.serverID == serverID, facts.subject == principal else {
            return .failure(notFound)
        }
        // A session lives at most `sessionTTL`; ended sessions are remembered exactly that long.
        let ageMilliseconds = Timestamp.now().millisecondsSince1970 - facts.createdAt
        if ageMilliseconds > sessionTTL.components.seconds * 1000 { return .failure(notFound) }
        let ended = (try? await coordinator.isSessionTerminated(facts.key)) ?? false
        if ended { return .failure(notFound) }
        if let headerVersion = request.headers[Self.versionHeader], headerVersion != facts.protocolVersion {
            return .failure(
                SessionFailure(
                    response: MCPReply.error(
                        JSONRPCError.invalidRequest(
                            "MCP-Protocol-Version \(headerVersion) does not match the session's \(facts.protocolVersion)",
                            id: id
                        ),
                        status: .badRequest
                    )
                )
            )
        }
        return .success(facts)
    }

    // MARK: - DELETE

    func delete(_ request: Request, context: GatewayRequestContext, serverID: String?) async throws -> Response {
        if request.headers[Self.versionHeader] == ProtocolVersions.stateless {
            var headers = HTTPFields()
            headers[.allow] = "POST"
            return Response(status: .methodNotAllowed, headers: headers)
        }
        let principal = context.principal?.subject ?? "anonymous"
        switch await session(request, serverID: serverID, principal: principal) {
        case .failure(let failure):
            return failure.response
        case .success(let facts):
            try await coordinator.terminateSession(facts.key, ttl: sessionTTL)
            engine.end(session: facts.key)
            return Response(status: .noContent)
        }
    }
}
