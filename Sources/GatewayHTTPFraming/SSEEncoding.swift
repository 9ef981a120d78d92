import GatewayCore
import GatewaySession
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Writes `text/event-stream` events.
public enum SSEEncoding {
    /// One `message` event carrying a JSON-RPC message (with its `id:` when resumable), a
    /// priming event (an id and empty data), or a keep-alive comment. Line breaks in the JSON can
    /// only be whitespace between tokens (inside strings they are escaped), so they become spaces
    /// and the message stays on one `data:` line.
    public static func write(_ event: StreamEvent, into buffer: inout ByteBuffer) {
        if event.isKeepAlive {
            buffer.writeStaticString(": keep-alive\n\n")
            return
        }
        if event.data.isEmpty, let id = event.id {
            buffer.writeStaticString("id: ")
            buffer.writeString(id)
            buffer.writeStaticString("\ndata: \n\n")
            return
        }
        buffer.writeStaticString("event: message\n")
        if let id = event.id {
            buffer.writeStaticString("id: ")
            buffer.writeString(id)
            buffer.writeStaticString("\n")
        }
        buffer.writeStaticString("data: ")
        if event.data.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
            buffer.writeBytes(event.data.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 })
        } else {
            buffer.writeBytes(event.data)
        }
        buffer.writeStaticString("\n\n")
    }

    /// Ends a stream the server closes for a graceful shutdown: the client reconnects after a
    /// second (to another node behind the load balancer), resuming with `Last-Event-ID`.
    public static func reconnectBuffer() -> ByteBuffer {
        ByteBuffer(staticString: ": server shutting down, reconnect\nretry: 1000\n\n")
    }

    /// One event in a buffer of its own.
    public static func buffer(_ event: StreamEvent) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(event.data.count + 32)
        write(event, into: &buffer)
        return buffer
    }
}

/// A streamed `text/event-stream` answer fed by an ``OutboundQueue``.
public enum EventStreamResponse {
    /// Writes `opening` and then every event of `queue` until it finishes. The queue is
    /// registered with `keepAlive` for the stream's life. `onEnd` runs once the stream is over,
    /// told whether the client went away (a write failed) rather than the queue finishing.
    /// Standing streams end when the server shuts down (`endsOnShutdown`); a call's stream runs
    /// until its response, which the shutdown waits for.
    public static func make(
        headers: HTTPFields = MCPReply.eventStreamHeaders(),
        opening: [ByteBuffer],
        queue: OutboundQueue,
        keepAlive: StreamKeepAlive,
        endsOnShutdown: Bool = true,
        onEnd: @escaping @Sendable (_ clientLeft: Bool) -> Void = { _ in }
    ) -> Response {
        let pinged = keepAlive.register(queue)
        // If the body never runs (the head could not be written), the client left.
        let cleanup = ResponseCleanup { clientLeft in
            keepAlive.unregister(pinged)
            onEnd(clientLeft)
        }
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                var clientLeft = false
                do {
                    for buffer in opening { try await writer.write(buffer) }
                    if endsOnShutdown {
                        try await queue.drain { try await writer.write(SSEEncoding.buffer($0)) }
                        if Task.isShuttingDownGracefully { try await writer.write(SSEEncoding.reconnectBuffer()) }
                    } else {
                        while let event = await queue.next() { try await writer.write(SSEEncoding.buffer(event)) }
                    }
                    try await writer.finish(nil)
                } catch {
                    clientLeft = true
                }
                cleanup.run(clientLeft: clientLeft)
            }
        )
    }
}

extension OutboundQueue {
    /// Hands every event to `write` until the queue finishes. When the server begins a graceful
    /// shutdown the queue is finished, so open streams end and their clients reconnect elsewhere
    /// (with `Last-Event-ID` where the stream is resumable) instead of holding the shutdown up.
    package func drain(_ write: (StreamEvent) async throws -> Void) async throws {
        try await withGracefulShutdownHandler {
            while let event = await next() { try await write(event) }
        } onGracefulShutdown: {
            self.finish()
        }
    }
}
