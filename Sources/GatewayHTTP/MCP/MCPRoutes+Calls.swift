import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// A request's watch on its connection (``ClientDisconnects``).
struct DisconnectWatch: Sendable {
    let channel: any Channel
    let id: Int
}

/// Streamable HTTP's side of a message: the engine handles it; this answers as JSON, or as an
/// SSE stream when a forwarded call talks back to its client while it runs.
extension MCPRoutes {
    /// A call's response stream, when the client accepts one.
    struct CallStream {
        let queue: OutboundQueue
        /// The session stream it is recorded under (resumable), if the client has a session.
        let resumable: (session: String, name: String)?
    }

    /// Hands one message to the engine and answers the POST. `status` maps a reply to its HTTP
    /// status (2026-07-28 maps some errors). A forwarded call is cancelled when the client of
    /// `connection` goes away (2026-07-28: closing the request is how a client cancels).
    func handle(
        _ message: JSONRPCMessage,
        from client: SessionEngine.Client,
        context: MCPRequestContext,
        request: Request,
        status: @escaping @Sendable (MCPDispatcher.Reply) -> HTTPResponse.Status,
        cancelledBy connection: (any Channel)? = nil,
        logger: Logger
    ) async -> Response {
        var stream: CallStream?
        let outcome = await engine.handle(message, from: client, context: context, logger: logger) { _ in
            let (sink, opened) = callSink(for: request, session: client.key, serverID: context.serverID)
            stream = opened
            return sink
        }
        switch outcome {
        case .answered(let reply):
            return MCPReply.message(reply.bytes, status: status(reply), request: request)
        case .running(let call):
            let watch = connection.flatMap { channel in
                disconnects.whenGone(channel) { call.cancel() }.map { DisconnectWatch(channel: channel, id: $0) }
            }
            return await respond(to: call, stream: stream, request: request, status: status, watch: watch)
        case .consumed:
            return MCPReply.accepted()
        case .unexpectedAnswer(let error):
            return MCPReply.error(error, status: .notFound)
        }
    }

    /// Where a call's messages go: nowhere unless the client accepts `text/event-stream`; then a
    /// queue, recorded as a session stream (for resuming) when there is a session.
    func callSink(
        for request: Request,
        session: String?,
        serverID: String?
    ) -> (SessionEngine.CallSink, CallStream?) {
        guard MCPReply.acceptsEventStream(request) else { return (SessionEngine.CallSink(send: nil), nil) }
        let streams = runtime.streams
        let queue = OutboundQueue(capacity: runtime.streamCapacity)
        guard let session else {
            let sink = SessionEngine.CallSink(
                send: { queue.push(StreamEvent(data: $0)) },
                finish: { reply in
                    queue.push(StreamEvent(data: reply.bytes, isFinal: true))
                    queue.finish()
                }
            )
            return (sink, CallStream(queue: queue, resumable: nil))
        }
        let name = StreamName.call(streams.nextSequence())
        streams.attach(queue, session: session, stream: name, serverID: serverID)
        let sink = SessionEngine.CallSink(
            send: { streams.deliver($0, session: session, stream: name) },
            finish: { streams.deliver($0.bytes, session: session, stream: name, isFinal: true) }
        )
        return (sink, CallStream(queue: queue, resumable: (session, name)))
    }

    /// Answers a running call: plain JSON if it ends before anything else is sent or a
    /// keep-alive is due, otherwise an SSE stream whose last event is the response.
    ///
    /// When the client's stream breaks: in a stateful session the call goes on and its events are
    /// kept for the client to resume with `Last-Event-ID` (2025-11-25 says a disconnect is not a
    /// cancellation); without a session (2026-07-28) closing the stream cancels the call and its
    /// upstream request, at once when its connection is watched (`watch`), otherwise at the next
    /// keep-alive.
    func respond(
        to call: Task<MCPDispatcher.Reply, Never>,
        stream: CallStream?,
        request: Request,
        status: @escaping @Sendable (MCPDispatcher.Reply) -> HTTPResponse.Status,
        watch: DisconnectWatch? = nil
    ) async -> Response {
        let disconnects = disconnects
        guard let stream else {
            let reply = await call.value
            watch.map { disconnects.stopWatching($0.channel, $0.id) }
            return MCPReply.message(reply.bytes, status: status(reply), request: request)
        }
        let keepAlive = runtime.keepAlive
        // Keep-alives are due from now on: a call still running at the next one answers as a stream.
        let pinged = keepAlive.register(stream.queue)
        let first = await stream.queue.next()
        keepAlive.unregister(pinged)
        guard let first, !first.isFinal else {
            let reply = await call.value
            watch.map { disconnects.stopWatching($0.channel, $0.id) }
            return MCPReply.message(reply.bytes, status: status(reply), request: request)
        }
        let streams = runtime.streams
        let queue = stream.queue
        let resumable = stream.resumable
        return EventStreamResponse.make(
            opening: [SSEEncoding.buffer(first)],
            queue: queue,
            keepAlive: keepAlive,
            endsOnShutdown: false
        ) { clientLeft in
            watch.map { disconnects.stopWatching($0.channel, $0.id) }
            guard clientLeft else { return }
            if let resumable {
                streams.detach(queue, session: resumable.session, stream: resumable.name)
            } else {
                call.cancel()
            }
        }
    }
}
