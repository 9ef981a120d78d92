import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import Hummingbird

/// `POST /rpc`: plain JSON-RPC, one request per call, no session, answered as JSON. Only MCP
/// methods are served: an unknown method is "Method not found", never taken for a tool name.
extension MCPRoutes {
    func rpc(_ request: Request, context: GatewayRequestContext) async -> Response {
        let bytes: [UInt8]
        do { bytes = try await body(of: request) } catch { return error.response }
        if JSONRPCMessage.isBatch(bytes) {
            return MCPReply.error(JSONRPCError.invalidRequest("/rpc takes one request per call"), status: .badRequest)
        }
        let message: JSONRPCMessage
        do { message = try JSONRPCMessage(bytes: bytes, maximumDepth: jsonDepth) } catch {
            return MCPReply.error(error, status: .badRequest)
        }
        guard message.kind == .request, message.method != nil else { return MCPReply.accepted() }
        let mcpContext = MCPRequestContext(
            protocolVersion: ProtocolVersions.latestStateful,
            serverID: nil,
            principal: context.principal?.subject ?? "anonymous",
            forwardedHeaders: forwardedHeaders(of: request),
            hops: Self.hops(of: request),
            onBehalfOf: context.principal?.onBehalfOf
        )
        let reply: MCPDispatcher.Reply
        switch await engine.handle(
            message,
            from: .plain,
            context: mcpContext,
            logger: context.logger,
            sink: { _ in
                SessionEngine.CallSink(send: nil)
            }
        ) {
        case .answered(let answered): reply = answered
        case .running(let call): reply = await call.value
        case .consumed, .unexpectedAnswer: return MCPReply.accepted()
        }
        return MCPReply.json(reply.bytes)
    }
}
