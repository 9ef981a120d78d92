import GatewayCore
import NIOCore
import NIOHTTP1

/// Reads one HTTP response at a time on a pooled connection and completes the exchange's promise.
///
/// An exchange with an event sink reads an SSE response as it arrives: each message event goes
/// to the sink when it is complete (progress reaches the client while the call runs), and only
/// the event the sink calls final is kept as the response body.
///
/// `@unchecked Sendable`: every stored property is read and written on the channel's event loop
/// only; ``exchange(head:body:on:deadline:)`` hops there before touching them.
final class HTTP1ExchangeHandler: ChannelInboundHandler, @unchecked Sendable {  // nosemgrep: swift-unchecked-sendable
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let maximumResponseBytes: Int
    private var promise: EventLoopPromise<UpstreamHTTPResponse>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var timer: Scheduled<Void>?
    private var eventSink: (@Sendable ([UInt8]) -> Bool)?
    private var eventParser: SSEParser?

    init(maximumResponseBytes: Int) {
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// Writes the request and waits for the whole response, failing at `deadline` or when the
    /// calling task is cancelled (both close the connection).
    func exchange(
        head requestHead: HTTPRequestHead,
        body requestBody: ByteBuffer,
        on channel: any Channel,
        deadline: NIODeadline,
        eventSink: (@Sendable ([UInt8]) -> Bool)? = nil
    ) async throws -> UpstreamHTTPResponse {
        let eventLoop = channel.eventLoop
        let promise = eventLoop.makePromise(of: UpstreamHTTPResponse.self)
        let start: @Sendable () -> Void = {
            guard self.promise == nil else {
                promise.fail(UpstreamError(.protocolViolation, "connection already in use"))
                return
            }
            self.promise = promise
            self.head = nil
            self.body.clear()
            self.eventSink = eventSink
            self.eventParser = nil
            self.timer = eventLoop.scheduleTask(deadline: deadline) {
                self.fail(UpstreamError(.timeout, "no answer before the deadline"))
                channel.close(promise: nil)
            }
            channel.write(HTTPClientRequestPart.head(requestHead), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(requestBody)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { _ in
                self.fail(UpstreamError(.unreachable, "the connection closed"))
            }
        }
        if eventLoop.inEventLoop { start() } else { eventLoop.execute(start) }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    func fail(_ error: any Error) {
        timer?.cancel()
        timer = nil
        let pending = promise
        promise = nil
        pending?.fail(error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            head = responseHead
            if eventSink != nil, responseHead.status == .ok,
                responseHead.headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true
            {
                eventParser = SSEParser(maximumEventSize: maximumResponseBytes)
            }
        case .body(let chunk) where eventParser != nil:
            readEvents(chunk, context: context)
        case .body(var chunk):
            guard body.readableBytes + chunk.readableBytes <= maximumResponseBytes else {
                fail(UpstreamError(.tooLarge, "the upstream response exceeds \(maximumResponseBytes) bytes"))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard let responseHead = head else { return }
            let streamed = eventParser != nil
            if streamed { readEvents(ByteBuffer(string: "\n\n"), context: context) }
            eventParser = nil
            eventSink = nil
            timer?.cancel()
            timer = nil
            let pending = promise
            promise = nil
            var headers = responseHead.headers
            if !responseHead.isKeepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
            pending?.succeed(
                UpstreamHTTPResponse(
                    status: Int(responseHead.status.code),
                    headers: headers,
                    body: body,
                    streamedEvents: streamed
                )
            )
            body = ByteBuffer()
        }
    }

    /// Feeds a chunk of an SSE response to the parser and hands complete message events to the
    /// sink, keeping the final one as the body.
    private func readEvents(_ chunk: ByteBuffer, context: ChannelHandlerContext) {
        guard var parser = eventParser, let sink = eventSink else { return }
        let events: [SSEEvent]
        do {
            events = try parser.feed(chunk.readableBytesView)
        } catch {
            eventParser = nil
            fail(UpstreamError(.tooLarge, "an upstream event exceeds \(maximumResponseBytes) bytes"))
            context.close(promise: nil)
            return
        }
        eventParser = parser
        for event in events where event.event == "message" && !event.data.isEmpty {
            if sink(event.data) {
                body.clear()
                body.writeBytes(event.data)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(UpstreamError(.unreachable, "the upstream closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(UpstreamError(.protocolViolation, "invalid HTTP from the upstream"))
        context.close(promise: nil)
    }
}
