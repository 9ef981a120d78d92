import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOWebSocket

/// MCP over WebSocket at `/ws` (whole catalog) and `/servers/{id}/ws`: one JSON-RPC message per
/// text frame, both ways; the connection is the session (as with legacy SSE). Off unless
/// MCPGATEWAY_WS_RELAY_ENABLED, like ContextForge's relay. The upgrade request is authenticated
/// like every other route (`Authorization: Bearer`).
extension MCPRoutes {
    /// The router that decides WebSocket upgrades; `authenticate` adds the same authentication
    /// (and rate limits) as the HTTP router's.
    public func webSocketRouter(
        authenticate: (Router<GatewayWebSocketContext>) -> Void
    ) -> Router<GatewayWebSocketContext> {
        let router = Router(context: GatewayWebSocketContext.self)
        authenticate(router)
        router.ws("ws") { inbound, outbound, context in
            await serveWebSocket(
                inbound,
                outbound,
                context: context.requestContext,
                serverID: nil,
                logger: context.logger
            )
        }
        router.ws("servers/:id/ws") { _, context in
            guard let id = context.parameters.get("id"), dispatcher.catalog.snapshot.view(serverID: id) != nil else {
                return .dontUpgrade
            }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            await serveWebSocket(
                inbound,
                outbound,
                context: context.requestContext,
                serverID: context.requestContext.parameters.get("id"),
                logger: context.logger
            )
        }
        return router
    }

    /// Largest inbound WebSocket message.
    var maximumWebSocketMessage: Int { maximumBodyBytes }

    /// Serves one WebSocket connection as a session. The connection holds one of its client's
    /// `MAX_CONCURRENT_REQUESTS_PER_CLIENT` slots for its life, each frame counts against the
    /// client's MCP rate limit, and a client that stops reading while asking on (its outbound
    /// queue overflows) is disconnected.
    func serveWebSocket(
        _ inbound: WebSocketInboundStream,
        _ outbound: WebSocketOutboundWriter,
        context: GatewayWebSocketContext,
        serverID: String?,
        logger: Logger
    ) async {
        let subject = context.principal?.subject ?? "anonymous"
        var slot: ResponseCleanup?
        if let slots = connectionLimits.slots {
            guard let acquired = slots.acquire(subject) else {
                let reason = "too many concurrent requests: at most \(slots.limit) open at once per client"
                try? await outbound.close(.policyViolation, reason: reason)
                return
            }
            slot = acquired
        }
        defer { slot?.run() }
        let session = ConnectionSession(
            key: SessionSealer.newKey(),
            subject: subject,
            serverID: serverID,
            protocolVersion: ProtocolVersions.latestStateful
        )
        guard await engine.open(session) else {
            try? await outbound.close(.unknown(1013), reason: "too many open sessions on this node; try again later")
            return
        }
        defer { engine.end(session: session.key) }
        let channel = context.channel
        let queue = OutboundQueue(capacity: runtime.streamCapacity, maximumBytes: runtime.streamBytes) {
            logger.warning(
                "websocket closed: the client does not read its answers",
                metadata: ["session.subject": .string(subject)]
            )
            channel.close(promise: nil)
        }
        runtime.streams.attach(queue, session: session.key, stream: StreamName.get, serverID: serverID)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await queue.drain { event in
                    guard !event.data.isEmpty else { return }
                    try await outbound.write(.text(String(decoding: event.data, as: UTF8.self)))
                }
            }
            await receiveFrames(inbound, session: session, logger: logger)
            queue.finish()
            await group.waitForAll()
        }
    }

    /// Reads the client's frames until it closes (or the connection is closed under it).
    func receiveFrames(
        _ inbound: WebSocketInboundStream,
        session: ConnectionSession,
        logger: Logger
    ) async {
        let streams = runtime.streams
        let send: @Sendable ([UInt8], Bool) -> OutboundQueue.PushResult = { bytes, essential in
            streams.deliver(bytes, session: session.key, stream: StreamName.get, essential: essential)
        }
        do {
            for try await message in inbound.messages(maxSize: maximumWebSocketMessage) {
                let bytes: [UInt8]
                switch message {
                case .text(let text): bytes = Array(text.utf8)
                case .binary(let buffer): bytes = Array(buffer.readableBytesView)
                }
                // Every frame counts, text or not.
                if let frames = connectionLimits.frames,
                    let refusal = await frames.refusal(subject: session.subject, id: nil)
                {
                    // A request is answered with the refusal; anything else is dropped.
                    if let id = Self.requestID(in: bytes) { _ = send(refusal.answering(id).responseBytes, true) }
                    continue
                }
                guard case .text = message else {
                    _ = send(JSONRPCError.invalidRequest("send JSON-RPC as text frames").responseBytes, true)
                    continue
                }
                await engine.receive(bytes, in: session, logger: logger)
            }
        } catch {
            logger.debug("websocket closed", metadata: ["error": "\(error)"])
        }
    }

    /// The id of a request frame, for answering it without handling it (`nil` otherwise).
    static func requestID(in bytes: [UInt8]) -> JSONRPCID? {
        guard let message = try? JSONRPCMessage(bytes: bytes), message.kind == .request else { return nil }
        return message.id
    }
}
