import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers `431 Request Header Fields Too Large` (and closes) when a request's headers exceed
/// the decoder's limits (MAX_HEADER_BYTES, MAX_HEADER_COUNT). Hummingbird answers every parse
/// error with a bare 400; this handler, placed after the HTTP codec, takes the header overflow
/// first so the client learns what to fix.
public final class HeaderLimitResponder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundOut = HTTPResponsePart

    public init() {}

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, parserError == .headerOverflow else {
            context.fireErrorCaught(error)
            return
        }
        let head = HTTPResponse(
            status: .requestHeaderFieldsTooLarge,
            headerFields: [.connection: "close", .contentLength: "0"]
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
