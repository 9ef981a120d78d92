import GatewayCore
import Logging

/// Sessions bound to one connection (legacy HTTP+SSE, WebSocket): everything the gateway says to
/// the client, responses included, goes out on the connection's one stream.
extension SessionEngine {
    /// Opens a connection-bound session; `false` when this node holds as many as it may. A
    /// ``ConnectionSession/reachable`` session's node is recorded for the cluster.
    public func open(_ session: ConnectionSession) async -> Bool {
        guard runtime.connections.insert(session) else { return false }
        if session.reachable, let bus = runtime.bus {
            await bus.attached(session: session.key, stream: StreamName.connection, serverID: session.serverID)
        }
        return true
    }

    /// Handles one message from a connection-bound client. Responses go out on the session's
    /// stream; forwarded calls run concurrently, so a slow tool does not hold up the session's
    /// other requests. Returns the error when the message could not be read (it is also sent on
    /// the stream). `hops` and `onBehalfOf` are what the message's own HTTP request said (a legacy
    /// SSE `POST /message` from a peer gateway): the hop count and the caller vouched for.
    @discardableResult
    public func receive(
        _ bytes: [UInt8],
        in session: ConnectionSession,
        hops: String? = nil,
        onBehalfOf: String? = nil,
        logger: Logger
    ) async -> JSONRPCError? {
        let streams = runtime.streams
        let key = session.key
        let respond: @Sendable ([UInt8]) -> Void = {
            _ = streams.deliver($0, session: key, stream: StreamName.get, essential: true)
        }
        let message: JSONRPCMessage
        do { message = try Self.connectionMessage(bytes, maximumDepth: dispatcher.rules.maximumJSONDepth) } catch {
            respond(error.responseBytes)
            return error
        }
        let context = MCPRequestContext(
            protocolVersion: session.current.protocolVersion,
            serverID: session.serverID,
            principal: session.subject,
            hops: hops,
            onBehalfOf: onBehalfOf
        )
        let outcome = await handle(message, from: .connection(session), context: context, logger: logger) { _ in
            CallSink(send: { streams.deliver($0, session: key, stream: StreamName.get) }, finish: { respond($0.bytes) })
        }
        switch outcome {
        case .answered(let reply):
            respond(reply.bytes)
        case .running, .consumed:
            break
        case .unexpectedAnswer:
            logger.debug("answer for no waiting request", metadata: ["mcp.id": "\(message.id?.description ?? "")"])
        }
        return nil
    }

    /// Reads one message of a connection-bound session: one at a time, no batches.
    public static func connectionMessage(_ bytes: [UInt8], maximumDepth: Int) throws(JSONRPCError) -> JSONRPCMessage {
        if JSONRPCMessage.isBatch(bytes) { throw JSONRPCError.invalidRequest("send one message at a time") }
        return try JSONRPCMessage(bytes: bytes, maximumDepth: maximumDepth)
    }

    /// A message another node received for a session held here: handled as if posted here, if
    /// the session is here and the poster's.
    func receive(posted: PostedMessage, ticket: PostTicket, logger: Logger) async {
        guard let bus = runtime.bus else { return }
        guard let session = runtime.connections[posted.session], session.subject == posted.subject,
            session.serverID == posted.serverID
        else { return bus.acknowledge(ticket, .notFound) }
        // Handled, then acknowledged, as a POST on this node is answered 202 only once its message
        // was handled (a call started and cancellable, an answer delivered): a client that waits
        // for the 202 before its next message keeps its order.
        await receive(
            Array(posted.message.utf8),
            in: session,
            hops: posted.hops,
            onBehalfOf: posted.onBehalfOf,
            logger: logger
        )
        bus.acknowledge(ticket, .accepted)
    }
}
