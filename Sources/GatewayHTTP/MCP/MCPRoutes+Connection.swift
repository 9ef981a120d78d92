import GatewayCore
import Logging

/// Handling of the messages of connection-bound sessions (legacy HTTP+SSE, WebSocket).
extension MCPRoutes {
    /// Handles one message from a connection-bound client. Everything the gateway answers goes to
    /// `send` (responses as essential messages); forwarded calls run concurrently, so a slow tool
    /// does not hold up the session's other requests. Returns the error when the message could not
    /// be read. `hops` and `onBehalfOf` are what the message's own HTTP request said (a legacy SSE
    /// `POST /message` from a peer gateway): the hop count and the caller vouched for.
    @discardableResult
    func receive(
        _ bytes: [UInt8],
        in session: ConnectionSession,
        hops: String? = nil,
        onBehalfOf: String? = nil,
        send: @escaping @Sendable (_ message: [UInt8], _ essential: Bool) -> OutboundQueue.PushResult,
        logger: Logger
    ) async -> JSONRPCError? {
        let respond: @Sendable ([UInt8]) -> Void = { _ = send($0, true) }
        if JSONRPCMessage.isBatch(bytes) {
            let error = JSONRPCError.invalidRequest("send one message at a time")
            respond(error.responseBytes)
            return error
        }
        let message: JSONRPCMessage
        do { message = try JSONRPCMessage(bytes: bytes, maximumDepth: jsonDepth) } catch {
            respond(error.responseBytes)
            return error
        }
        guard message.kind == .request, let method = message.method else {
            if !clientMessage(message, owner: session.key) {
                logger.debug("answer for no waiting request", metadata: ["mcp.id": "\(message.id?.description ?? "")"])
            }
            return nil
        }
        let negotiated = session.current
        switch method {
        case "initialize":
            let version = ProtocolVersions.negotiate(ParamsRewriter.stringMember("protocolVersion", in: message))
            session.initialized(
                protocolVersion: version,
                capabilities: ClientCapabilities(declared: ParamsRewriter.member("capabilities", in: message))
            )
            respond(
                JSONRPCMessage.responseBytes(
                    id: message.id ?? .null,
                    result: dispatcher.initializeResult(protocolVersion: version)
                )
            )
        case "logging/setLevel":
            respond(setLogLevel(message, session: session.key))
        case "resources/subscribe", "resources/unsubscribe":
            respond(await subscription(message, session: session.key, serverID: session.serverID))
        default:
            var context = MCPRequestContext(
                protocolVersion: negotiated.protocolVersion,
                serverID: session.serverID,
                principal: session.subject,
                hops: hops,
                onBehalfOf: onBehalfOf
            )
            guard MCPDispatcher.isForwarded(method) else {
                respond(await dispatcher.handle(message, context: context, logger: logger).bytes)
                return nil
            }
            context.relay = ClientCallRelay(
                send: { send($0, false) },
                capacity: runtime.streamCapacity,
                owner: session.key,
                capabilities: negotiated.capabilities,
                logFilter: runtime.logLevels.level(for: session.key).map { .atLeast($0) } ?? .all,
                requestScopedOnly: false,
                pending: runtime.pending,
                logger: logger
            )
            let key = InFlightCalls.Key(owner: session.key, id: message.id ?? .null)
            let inFlight = runtime.inFlight
            let callContext = context
            _ = inFlight.start(key) {
                let reply = await dispatcher.handle(message, context: callContext, logger: logger)
                respond(reply.bytes)
                return reply
            }
        }
        return nil
    }

    /// The connection closed: the session ends with everything it held.
    func endConnectionSession(_ session: ConnectionSession) {
        runtime.connections.remove(session.key)
        runtime.streams.forget(session: session.key)
        runtime.logLevels.forget(session.key)
        endSubscriptions(of: session.key)
    }
}
