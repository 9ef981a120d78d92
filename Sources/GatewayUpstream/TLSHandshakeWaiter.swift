import GatewayCore
import NIOCore
import NIOTLS

/// Completes `promise` when the TLS handshake behind it finishes, and removes itself; fails it
/// (and closes the channel) when the handshake fails, the connection closes first, or
/// `deadline` passes. Placed right after the TLS handler.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let promise: EventLoopPromise<Void>
    private let deadline: NIODeadline
    private var timer: Scheduled<Void>?

    init(promise: EventLoopPromise<Void>, deadline: NIODeadline) {
        self.promise = promise
        self.deadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = promise
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(UpstreamError(.timeout, "connecting took too long"))
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        promise.fail(UpstreamError(.unreachable, "the TLS handshake did not finish"))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            timer?.cancel()
            promise.succeed()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A certificate that does not match the host name or chain to a trusted root lands here.
        promise.fail(UpstreamError(.unreachable, "the TLS handshake with the upstream failed"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(UpstreamError(.unreachable, "the upstream closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }
}
