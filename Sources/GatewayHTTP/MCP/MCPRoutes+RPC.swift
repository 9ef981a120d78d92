import GatewayCore
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
        guard message.kind == .request, let method = message.method else { return MCPReply.accepted() }
        let version = ProtocolVersions.latestStateful
        if method == "initialize" {
            let negotiated = ProtocolVersions.negotiate(ParamsRewriter.stringMember("protocolVersion", in: message))
            let result = dispatcher.initializeResult(protocolVersion: negotiated)
            return MCPReply.json(JSONRPCMessage.responseBytes(id: message.id ?? .null, result: result))
        }
        let mcpContext = MCPRequestContext(
            protocolVersion: version,
            serverID: nil,
            principal: context.principal?.subject ?? "anonymous",
            forwardedHeaders: forwardedHeaders(of: request),
            hops: Self.hops(of: request),
            onBehalfOf: context.principal?.onBehalfOf
        )
        let reply = await dispatcher.handle(message, context: mcpContext, logger: context.logger)
        return MCPReply.json(reply.bytes)
    }
}
