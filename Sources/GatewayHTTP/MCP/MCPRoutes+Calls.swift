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
        /// The stateful session whose streams are resumable, if any.
        var session: String?
        var serverID: String?
        var capabilities: ClientCapabilities?
        var logFilter: ClientCallRelay.LogFilter
        var requestScopedOnly: Bool
    }

    /// Runs a forwarded call. When the client accepts `text/event-stream`, the upstream's
    /// notifications and requests during the call are relayed: the answer is plain JSON if the
    /// call ends before anything else is sent or a keep-alive is due, otherwise an SSE stream
    /// whose last event is the response.
    ///
    /// When the client's stream breaks: in a stateful session the call goes on and its events are
    /// kept for the client to resume with `Last-Event-ID` (2025-11-25 says a disconnect is not a
    /// cancellation); without a session (2026-07-28) closing the stream cancels the call and its
    /// upstream request. A broken stream is noticed at the latest by the next keep-alive.
    func call(
        _ message: JSONRPCMessage,
        context: MCPRequestContext,
        channel: CallChannel,
        request: Request,
        status: @escaping @Sendable (MCPDispatcher.Reply) -> HTTPResponse.Status,
        logger: Logger
    ) async -> Response {
        let streams = runtime.streams
        let queue = MCPReply.acceptsEventStream(request) ? OutboundQueue(capacity: runtime.streamCapacity) : nil
        var stream: (session: String, name: String)?
        var context = context
        if let queue {
            let send: @Sendable ([UInt8]) -> OutboundQueue.PushResult
            if let session = channel.session {
                let name = "c\(streams.nextSequence())"
                streams.attach(queue, session: session, stream: name, serverID: channel.serverID)
                stream = (session, name)
                send = { streams.deliver($0, session: session, stream: name) }
            } else {
                send = { queue.push(StreamEvent(data: $0)) }
            }
            context.relay = ClientCallRelay(
                send: send,
                capacity: runtime.streamCapacity,
                owner: channel.owner,
                capabilities: channel.capabilities,
                logFilter: channel.logFilter,
                requestScopedOnly: channel.requestScopedOnly,
                pending: runtime.pending,
                logger: logger
            )
        }
        let dispatcher = dispatcher
        let callContext = context
        let callStream = stream
        let run: @Sendable () async -> MCPDispatcher.Reply = {
            let reply = await dispatcher.handle(message, context: callContext, logger: logger)
            if let callStream {
                streams.deliver(reply.bytes, session: callStream.session, stream: callStream.name, isFinal: true)
            } else if let queue {
                queue.push(StreamEvent(data: reply.bytes, isFinal: true))
                queue.finish()
            }
            return reply
        }
        // Only session calls can be named by a later notifications/cancelled; a call without a
        // session is cancelled through its stream alone.
        let task =
            channel.session == nil
            ? Task(operation: run)
            : runtime.inFlight.start(InFlightCalls.Key(owner: channel.owner, id: message.id ?? .null), run)
        guard let queue else {
            let reply = await task.value
            return MCPReply.message(reply.bytes, status: status(reply), request: request)
        }
        let keepAlive = runtime.keepAlive
        // Keep-alives are due from now on: a call still running at the next one answers as a stream.
        let pinged = keepAlive.register(queue)
        let first = await queue.next()
        keepAlive.unregister(pinged)
        guard let first, !first.isFinal else {
            let reply = await task.value
            return MCPReply.message(reply.bytes, status: status(reply), request: request)
        }
        return EventStreamResponse.make(
            opening: [SSEEncoding.buffer(first)],
            queue: queue,
            keepAlive: keepAlive,
            endsOnShutdown: false
        ) { clientLeft in
            guard clientLeft else { return }
            if let callStream {
                streams.detach(queue, session: callStream.session, stream: callStream.name)
            } else {
                task.cancel()
            }
        }
    }

    /// A response or notification a client sent in a session (`owner`): answers to requests
    /// the gateway relayed, and cancellations; other notifications need no action. `false` for
    /// an answer nobody is waiting for.
    func clientMessage(_ message: JSONRPCMessage, owner: String) -> Bool {
        switch message.kind {
        case .response, .errorResponse:
            let reply: UpstreamReply =
                message.kind == .response
                ? .result(Array(message.resultBytes ?? []))
                : .error(Array(message.errorBytes ?? []))
            guard let id = message.id else { return false }
            if runtime.pending.resolve(id: id, owner: owner, reply: reply) { return true }
            // Asked by another node of the cluster: its id names that node.
            guard let bus = runtime.bus, String(decoding: id.raw, as: UTF8.self).hasPrefix("\"gw-") else {
                return false
            }
            bus.forwardAnswer(id: id, owner: owner, reply: reply)
            return true
        case .notification where message.method == "notifications/cancelled":
            if let range = message.paramMembers().first(where: { $0.key == "requestId" })?.range {
                let id = JSONRPCID(raw: Array(message.bytes[range]))
                if !runtime.inFlight.cancel(InFlightCalls.Key(owner: owner, id: id)) {
                    // Perhaps running on another node of the cluster.
                    runtime.bus?.forwardCancellation(id: id, owner: owner)
                }
            }
            return true
        default:
            return true
        }
    }

    static func unexpectedAnswer(_ message: JSONRPCMessage) -> JSONRPCError {
        JSONRPCError.invalidRequest(
            "no request with id \(message.id?.description ?? "null") is waiting for this session's answer"
        )
    }

    /// `logging/setLevel`: remembered for the session; later log notifications below the level are
    /// not relayed to it. Returns the response.
    func setLogLevel(_ message: JSONRPCMessage, session: String) -> [UInt8] {
        guard let name = ParamsRewriter.stringMember("level", in: message), let level = LoggingLevel(name: name) else {
            let names = LoggingLevel.allCases.map(\.name).joined(separator: ", ")
            return JSONRPCError.invalidParams("\"level\" must be one of \(names)", id: message.id).responseBytes
        }
        runtime.logLevels.set(level, for: session)
        return JSONRPCMessage.responseBytes(id: message.id ?? .null, result: Array("{}".utf8))
    }
}
