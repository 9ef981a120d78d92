import GatewayCore
import Hummingbird
import HummingbirdWebSocket
import Logging

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
                principal: context.requestContext.principal,
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
                principal: context.requestContext.principal,
                serverID: context.requestContext.parameters.get("id"),
                logger: context.logger
            )
        }
        return router
    }

    /// Largest inbound WebSocket message.
    var maximumWebSocketMessage: Int { maximumBodyBytes }

    func serveWebSocket(
        _ inbound: WebSocketInboundStream,
        _ outbound: WebSocketOutboundWriter,
        principal: Principal?,
        serverID: String?,
        logger: Logger
    ) async {
        let session = ConnectionSession(
            key: SessionSealer.newKey(),
            subject: principal?.subject ?? "anonymous",
            serverID: serverID,
            protocolVersion: ProtocolVersions.latestStateful
        )
        guard runtime.connections.insert(session) else {
            try? await outbound.write(
                .text(
                    String(decoding: JSONRPCError.invalidRequest("too many open sessions").responseBytes, as: UTF8.self)
                )
            )
            return
        }
        let queue = OutboundQueue(capacity: runtime.streamCapacity)
        let streams = runtime.streams
        streams.attach(queue, session: session.key, stream: "g", serverID: serverID)
        defer { endConnectionSession(session) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await queue.drain { event in
                    guard !event.data.isEmpty else { return }
                    try await outbound.write(.text(String(decoding: event.data, as: UTF8.self)))
                }
            }
            do {
                for try await message in inbound.messages(maxSize: maximumWebSocketMessage) {
                    guard case .text(let text) = message else {
                        queue.push(
                            StreamEvent(
                                data: JSONRPCError.invalidRequest("send JSON-RPC as text frames").responseBytes,
                                isEssential: true
                            )
                        )
                        continue
                    }
                    await receive(
                        Array(text.utf8),
                        in: session,
                        send: { bytes, essential in
                            streams.deliver(bytes, session: session.key, stream: "g", essential: essential)
                        },
                        logger: logger
                    )
                }
            } catch {
                logger.debug("websocket closed", metadata: ["error": "\(error)"])
            }
            queue.finish()
            await group.waitForAll()
        }
    }
}
