import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The HTTP+SSE transport of protocol 2024-11-05, which older clients still speak:
/// `GET /sse` opens a session and its stream, whose first event names the endpoint to POST
/// messages to (`/message?session_id=…`); answers and every server message come back on the
/// stream. Also per virtual server at `/servers/{id}/sse` and `/servers/{id}/message`.
extension MCPRoutes {
    func registerLegacySSE(on router: Router<GatewayRequestContext>) {
        router.get("sse") { request, context in await openLegacyStream(request, context: context, serverID: nil) }
        router.post("message") { request, context in await postLegacyMessage(request, context: context, serverID: nil) }
        router.get("servers/:id/sse") { request, context in
            await openLegacyStream(request, context: context, serverID: try context.parameters.require("id"))
        }
        router.post("servers/:id/message") { request, context in
            await postLegacyMessage(request, context: context, serverID: try context.parameters.require("id"))
        }
    }

    func openLegacyStream(_ request: Request, context: GatewayRequestContext, serverID: String?) async -> Response {
        if let serverID, dispatcher.catalog.snapshot.view(serverID: serverID) == nil {
            return MCPReply.error(
                JSONRPCError.invalidRequest("virtual server not found: \(serverID)"),
                status: .notFound
            )
        }
        let session = ConnectionSession(
            key: SessionSealer.newKey(),
            subject: context.principal?.subject ?? "anonymous",
            serverID: serverID,
            protocolVersion: ProtocolVersions.legacySSE,
            reachable: true
        )
        guard await engine.open(session) else {
            return MCPReply.error(
                JSONRPCError.invalidRequest("too many open SSE sessions on this node; retry later"),
                status: .serviceUnavailable
            )
        }
        // A client that asks and never reads its stream is disconnected (the session ends with it).
        let channel = context.channel
        let logger = context.logger
        let queue = OutboundQueue(capacity: runtime.streamCapacity, maximumBytes: runtime.streamBytes) {
            logger.warning("SSE stream closed: the client does not read its answers")
            channel.close(promise: nil)
        }
        runtime.streams.attach(queue, session: session.key, stream: StreamName.get, serverID: serverID)
        let endpoint = (serverID.map { "/servers/\($0)" } ?? "") + "/message?session_id=\(session.key)"
        let routes = self
        // The session ends with its stream: at once when the client closes its connection.
        let disconnects = disconnects
        let watch = disconnects.whenGone(channel) { queue.finish() }
        return EventStreamResponse.make(
            opening: [ByteBuffer(string: "event: endpoint\ndata: \(endpoint)\n\n")],
            queue: queue,
            keepAlive: runtime.keepAlive
        ) { _ in
            watch.map { disconnects.stopWatching(channel, $0) }
            routes.engine.end(session: session.key)
        }
    }

    /// A message for a session: handled here if this node holds the session's stream, otherwise
    /// handed through the cluster bus to the node that does (no affinity needed); 404 when no
    /// node holds it.
    func postLegacyMessage(_ request: Request, context: GatewayRequestContext, serverID: String?) async -> Response {
        let subject = context.principal?.subject ?? "anonymous"
        let notFound = MCPReply.error(
            JSONRPCError(code: .invalidRequest, message: "Session not found"),
            status: .notFound
        )
        guard let key = request.uri.queryParameters.get("session_id") else { return notFound }
        let local = runtime.connections[key]
        if let local, local.subject != subject || local.serverID != serverID { return notFound }
        guard local != nil || runtime.bus != nil else { return notFound }
        let bytes: [UInt8]
        do { bytes = try await body(of: request) } catch { return error.response }
        if let local {
            let failure = await engine.receive(
                bytes,
                in: local,
                hops: Self.hops(of: request),
                onBehalfOf: context.principal?.onBehalfOf,
                logger: context.logger
            )
            if let failure { return MCPReply.error(failure, status: .badRequest) }
            return MCPReply.accepted()
        }
        return await postElsewhere(
            bytes,
            key: key,
            subject: subject,
            serverID: serverID,
            request: request,
            context: context
        )
    }

    /// Hands a message to the node holding the session (cluster mode), and answers as it says.
    func postElsewhere(
        _ bytes: [UInt8],
        key: String,
        subject: String,
        serverID: String?,
        request: Request,
        context: GatewayRequestContext
    ) async -> Response {
        guard let bus = runtime.bus else {
            return MCPReply.error(JSONRPCError(code: .invalidRequest, message: "Session not found"), status: .notFound)
        }
        // Unreadable messages are refused here; the holding node gets only messages it can read.
        do { _ = try SessionEngine.connectionMessage(bytes, maximumDepth: jsonDepth) } catch {
            return MCPReply.error(error, status: .badRequest)
        }
        let posted = PostedMessage(
            session: key,
            subject: subject,
            serverID: serverID,
            hops: Self.hops(of: request),
            onBehalfOf: context.principal?.onBehalfOf,
            message: String(decoding: bytes, as: UTF8.self)
        )
        switch await bus.post(posted) {
        case .accepted:
            return MCPReply.accepted()
        case .notFound:
            return MCPReply.error(JSONRPCError(code: .invalidRequest, message: "Session not found"), status: .notFound)
        case .unavailable:
            return MCPReply.error(
                JSONRPCError.internalError("the node holding this session did not answer; retry"),
                status: .serviceUnavailable
            )
        }
    }
}
