import GatewayCore
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
            protocolVersion: ProtocolVersions.legacySSE
        )
        guard runtime.connections.insert(session) else {
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
        runtime.streams.attach(queue, session: session.key, stream: "g", serverID: serverID)
        let endpoint = (serverID.map { "/servers/\($0)" } ?? "") + "/message?session_id=\(session.key)"
        let routes = self
        // The session ends with its stream.
        return EventStreamResponse.make(
            opening: [ByteBuffer(string: "event: endpoint\ndata: \(endpoint)\n\n")],
            queue: queue,
            keepAlive: runtime.keepAlive
        ) { _ in routes.endConnectionSession(session) }
    }

    func postLegacyMessage(_ request: Request, context: GatewayRequestContext, serverID: String?) async -> Response {
        guard let key = request.uri.queryParameters.get("session_id"), let session = runtime.connections[key],
            session.subject == (context.principal?.subject ?? "anonymous"), session.serverID == serverID
        else {
            return MCPReply.error(JSONRPCError(code: .invalidRequest, message: "Session not found"), status: .notFound)
        }
        let bytes: [UInt8]
        do { bytes = try await body(of: request) } catch { return error.response }
        let streams = runtime.streams
        let failure = await receive(
            bytes,
            in: session,
            hops: Self.hops(of: request),
            onBehalfOf: context.principal?.onBehalfOf,
            send: { message, essential in
                streams.deliver(message, session: key, stream: "g", essential: essential)
            },
            logger: context.logger
        )
        if let failure { return MCPReply.error(failure, status: .badRequest) }
        return MCPReply.accepted()
    }
}
