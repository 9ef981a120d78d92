// A minimal MCP upstream for benchmarks: answers streamable HTTP POSTs on /mcp on one event-loop
// thread, so it costs little CPU and never limits a gateway benchmark.
// Usage: FastUpstream [port]   (default 9100; binds 127.0.0.1)
import Foundation
import GatewayCore
import NIOCore
import NIOHTTP1
import NIOPosix

final class MCPResponder: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: a handler instance lives on its channel's event loop only.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    var body = ByteBuffer()
    var keepAlive = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            respond(context: context)
        }
    }

    func respond(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        var status = HTTPResponseStatus.ok
        var payload: [UInt8] = []
        let bytes = Array(body.readableBytesView)
        if let message = try? JSONRPCMessage(bytes: bytes), message.kind == .request, let id = message.id {
            let result: String
            switch message.method {
            case "initialize":
                headers.add(name: "mcp-session-id", value: "bench-session")
                result =
                    #"{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"fast","version":"1"}}"#
            case "tools/list":
                result =
                    #"{"tools":[{"name":"echo","description":"Echo","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}]}"#
            case "tools/call":
                result = #"{"content":[{"type":"text","text":"ok"}],"isError":false}"#
            default:
                result = "{}"
            }
            payload = JSONRPCMessage.responseBytes(id: id, result: Array(result.utf8))
            headers.add(name: "content-type", value: "application/json")
        } else {
            status = .accepted
        }
        headers.add(name: "content-length", value: String(payload.count))
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil
        )
        if !payload.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: payload)))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 9100 : 9100
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
            channel.pipeline.addHandler(MCPResponder())
        }
    }
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .bind(host: "127.0.0.1", port: port)
    .wait()
try channel.closeFuture.wait()
