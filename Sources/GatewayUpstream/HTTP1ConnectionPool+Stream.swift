import GatewayCore
import NIOCore
import NIOHTTP1

extension HTTP1ConnectionPool {
    /// GETs `path` and runs `read` with the response head and its body, on a connection of its
    /// own (a stream lives as long as its session, so it takes no pooled slot) that is closed
    /// when `read` returns or throws. The head must arrive by `deadline`; the body is read for
    /// as long as `read` reads it (cancelling the task ends it).
    func stream<T: Sendable>(
        _ endpoint: HTTP1Endpoint,
        path: String,
        headers: HTTPHeaders,
        deadline: NIODeadline,
        _ read: (HTTPResponseHead, HTTP1ResponseBody) async throws -> T
    ) async throws -> T {
        let connection = try await connector.connect(endpoint, deadline: deadline) { channel in
            try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
        }
        let channel = connection.channel
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        head.headers.replaceOrAdd(name: "host", value: endpoint.hostHeader)
        let requestHead = head
        return try await connection.executeThenClose { inbound, outbound in
            // Until the head arrives the deadline holds: past it the connection is closed, which
            // ends the wait below.
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
            var parts = inbound.makeAsyncIterator()
            let responseHead: HTTPResponseHead
            do {
                try await outbound.write(.head(requestHead))
                try await outbound.write(.end(nil))
                guard case .head(let received)? = try await parts.next() else {
                    throw UpstreamError(.unreachable, "the upstream closed the connection")
                }
                responseHead = received
                timer.cancel()
            } catch {
                timer.cancel()
                if Task.isCancelled { throw CancellationError() }
                if NIODeadline.now() >= deadline { throw UpstreamError(.timeout, "no answer before the deadline") }
                if let error = error as? UpstreamError { throw error }
                throw UpstreamError(.unreachable, "the upstream closed the connection")
            }
            return try await read(responseHead, HTTP1ResponseBody(parts: parts))
        }
    }
}

/// The body of a response read by ``HTTP1ConnectionPool/stream(_:path:headers:deadline:_:)``,
/// chunk by chunk as it arrives (with the channel's backpressure: nothing is read ahead of the
/// consumer beyond NIO's small inbound buffer). Iterate it once.
struct HTTP1ResponseBody: AsyncSequence, AsyncIteratorProtocol {
    typealias Element = ByteBuffer

    var parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private var ended = false

    init(parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator) {
        self.parts = parts
    }

    /// The next chunk; `nil` at the end of the response or when the connection closed.
    mutating func next() async throws -> ByteBuffer? {
        while !ended, let part = try await parts.next() {
            switch part {
            case .body(let chunk): return chunk
            case .end: ended = true
            case .head: throw UpstreamError(.protocolViolation, "a second response head from the upstream")
            }
        }
        return nil
    }

    func makeAsyncIterator() -> Self { self }
}
