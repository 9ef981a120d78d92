import GatewayCore
import NIOCore
import NIOHTTP1

/// Reads one HTTP response at a time on a pooled connection and completes the exchange's promise.
///
/// `@unchecked Sendable`: every stored property is read and written on the channel's event loop
/// only; ``exchange(head:body:on:deadline:)`` hops there before touching them.
final class HTTP1ExchangeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let maximumResponseBytes: Int
    private var promise: EventLoopPromise<UpstreamHTTPResponse>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var timer: Scheduled<Void>?

    init(maximumResponseBytes: Int) {
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// Writes the request and waits for the whole response, failing at `deadline` or when the
    /// calling task is cancelled (both close the connection).
    func exchange(
        head requestHead: HTTPRequestHead, body requestBody: ByteBuffer, on channel: any Channel, deadline: NIODeadline
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
        case .body(var chunk):
            guard body.readableBytes + chunk.readableBytes <= maximumResponseBytes else {
                fail(UpstreamError(.tooLarge, "the upstream response exceeds \(maximumResponseBytes) bytes"))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard let responseHead = head else { return }
            timer?.cancel()
            timer = nil
            let pending = promise
            promise = nil
            var headers = responseHead.headers
            if !responseHead.isKeepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
            pending?.succeed(UpstreamHTTPResponse(status: Int(responseHead.status.code), headers: headers, body: body))
            body = ByteBuffer()
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
