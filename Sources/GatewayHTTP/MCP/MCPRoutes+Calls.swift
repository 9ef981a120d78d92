import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Forwarded calls, their response streams, and what clients send back during them.
extension MCPRoutes {
    /// How one call may talk back to its client while it runs.
    struct CallChannel {
        /// The client session (or, without a session, the request itself) that is asked.
        var owner: String
        var capabilities: ClientCapabilities?
        var logFilter: ClientCallRelay.LogFilter
        var requestScopedOnly: Bool
    }

    /// Runs a forwarded call. When the client accepts `text/event-stream`, the upstream's
    /// notifications and requests during the call are relayed: the answer is plain JSON if the
    /// call ends before anything else is sent or a keep-alive is due, otherwise an SSE stream
    /// whose last event is the response. A write failure on the stream (the client went away,
    /// noticed at the latest by the next keep-alive) cancels the call and its upstream request.
    func call(
        _ message: JSONRPCMessage, context: MCPRequestContext, channel: CallChannel, request: Request,
        status: @escaping @Sendable (MCPDispatcher.Reply) -> HTTPResponse.Status, logger: Logger
    ) async -> Response {
        let queue = MCPReply.acceptsEventStream(request) ? OutboundQueue(capacity: runtime.streamCapacity) : nil
        var context = context
        if let queue {
            context.relay = ClientCallRelay(
                queue: queue, owner: channel.owner, capabilities: channel.capabilities, logFilter: channel.logFilter,
                requestScopedOnly: channel.requestScopedOnly, pending: runtime.pending, logger: logger)
        }
        let key = InFlightCalls.Key(owner: channel.owner, id: message.id ?? .null)
        let dispatcher = dispatcher
        let inFlight = runtime.inFlight
        let callContext = context
        let task = Task {
            defer {
                queue?.finish()
                inFlight.remove(key)
            }
            return await dispatcher.handle(message, context: callContext, logger: logger)
        }
        inFlight.insert(task, for: key)
        let keepAlive = runtime.keepAlive
        let pinged = queue.map { keepAlive.register($0) }
        guard let queue, let first = await queue.next() else {
            let reply = await task.value
            inFlight.remove(key)
            if let pinged { keepAlive.unregister(pinged) }
            return MCPReply.message(reply.bytes, status: status(reply), request: request)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache, no-transform"
        headers[MCPReply.accelBuffering] = "no"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var connected = true
                do {
                    try await writer.write(SSEEncoding.buffer(first))
                    while let event = await queue.next() { try await writer.write(SSEEncoding.buffer(event)) }
                } catch {
                    connected = false
                    task.cancel()
                }
                let reply = await task.value
                inFlight.remove(key)
                if let pinged { keepAlive.unregister(pinged) }
                guard connected else { return }
                try await writer.write(SSEEncoding.buffer(StreamEvent(data: reply.bytes)))
                try await writer.finish(nil)
            })
    }

    /// A response or notification a stateful client POSTed: answers to requests the gateway
    /// relayed, and cancellations. Anything else needs no action.
    func clientMessage(_ message: JSONRPCMessage, session facts: SessionFacts) -> Response {
        switch message.kind {
        case .response, .errorResponse:
            let reply: UpstreamReply =
                message.kind == .response
                ? .result(Array(message.resultBytes ?? []))
                : .error(Array(message.errorBytes ?? []))
            guard let id = message.id, runtime.pending.resolve(id: id, owner: facts.key, reply: reply) else {
                return MCPReply.error(
                    JSONRPCError.invalidRequest("no request with id \(message.id?.description ?? "null") is waiting for this session's answer"),
                    status: .notFound)
            }
            return MCPReply.accepted()
        case .notification where message.method == "notifications/cancelled":
            if let range = message.paramMembers().first(where: { $0.key == "requestId" })?.range {
                let id = JSONRPCID(raw: Array(message.bytes[range]))
                _ = runtime.inFlight.cancel(InFlightCalls.Key(owner: facts.key, id: id))
            }
            return MCPReply.accepted()
        default:
            return MCPReply.accepted()
        }
    }

    /// `logging/setLevel`: remembered for the session; later log notifications below the level are
    /// not relayed to it.
    func setLogLevel(_ message: JSONRPCMessage, session facts: SessionFacts, request: Request) -> Response {
        guard let name = ParamsRewriter.stringMember("level", in: message), let level = LoggingLevel(name: name) else {
            let names = LoggingLevel.allCases.map(\.name).joined(separator: ", ")
            return MCPReply.message(
                JSONRPCError.invalidParams("\"level\" must be one of \(names)", id: message.id).responseBytes,
                request: request)
        }
        runtime.logLevels.set(level, for: facts.key)
        return MCPReply.message(JSONRPCMessage.responseBytes(id: message.id ?? .null, result: Array("{}".utf8)), request: request)
    }
}
