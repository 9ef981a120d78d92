import GatewayCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import GatewayUpstream

/// A loopback HTTP server for the pool tests: answers every request with `{}` (optionally with
/// `Connection: close`, or never), and counts the connections it accepted.
final class CountingServer: Sendable {
    enum Behaviour: Sendable { case answer, answerAndClose, neverAnswer }

    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let behaviour: Behaviour
        init(behaviour: Behaviour) { self.behaviour = behaviour }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data), behaviour != .neverAnswer else { return }
            var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", "2")])
            if behaviour == .answerAndClose { headers.add(name: "connection", value: "close") }
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                promise: nil
            )
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "{}")))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if behaviour == .answerAndClose {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    let channel: any Channel

    init(_ behaviour: Behaviour) async throws {
        let counter = Counter()
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                counter.increment()
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(behaviour: behaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.counter = counter
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func increment() { value.add(1, ordering: .relaxed) }
    }

    let counter: Counter
    var connections: Int { counter.value.load(ordering: .relaxed) }
    var endpoint: HTTP1Endpoint { HTTP1Endpoint(host: "127.0.0.1", port: channel.localAddress?.port ?? 0) }

    func stop() async throws { try await channel.close() }
}

@Suite struct HTTP1ConnectionPoolTests {
    func pool(maximum: Int = 8) -> HTTP1ConnectionPool {
        HTTP1ConnectionPool(
            options: .init(
                maximumConnectionsPerEndpoint: maximum,
                idleTimeout: .seconds(4),
                connectTimeout: .seconds(2),
                maximumResponseBytes: 1 << 20,
                addressGuard: UpstreamAddressGuard(policy: NetworkPolicy(allowLocalhost: true))
            )
        )
    }

    func post(
        _ pool: HTTP1ConnectionPool,
        _ server: CountingServer,
        deadline: NIODeadline = .now() + .seconds(5)
    )
        async throws -> UpstreamHTTPResponse
    {
        try await pool.post(server.endpoint, path: "/mcp", headers: [:], body: Array("{}".utf8), deadline: deadline)
    }

    @Test func sequentialCallsReuseOneConnection() async throws {
        let server = try await CountingServer(.answer)
        let pool = pool()
        for _ in 0..<5 {
            let response = try await post(pool, server)
            #expect(response.status == 200)
            #expect(String(buffer: response.body) == "{}")
        }
        #expect(server.connections == 1)
        pool.shutdown()
        try await server.stop()
    }

    @Test func concurrentCallsStayWithinTheCap() async throws {
        let server = try await CountingServer(.answer)
        let pool = pool(maximum: 2)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<12 { group.addTask { try await post(pool, server).status } }
            for try await status in group { #expect(status == 200) }
        }
        #expect(server.connections <= 2)
        pool.shutdown()
        try await server.stop()
    }

    @Test func connectionsTheServerClosesAreNotReused() async throws {
        let server = try await CountingServer(.answerAndClose)
        let pool = pool()
        for _ in 0..<3 { #expect(try await post(pool, server).status == 200) }
        #expect(server.connections == 3)
        pool.shutdown()
        try await server.stop()
    }

    @Test func aSilentUpstreamFailsAtTheDeadline() async throws {
        let server = try await CountingServer(.neverAnswer)
        let pool = pool()
        let started = ContinuousClock.now
        do {
            _ = try await post(pool, server, deadline: .now() + .milliseconds(200))
            Issue.record("a silent upstream answered")
        } catch let error as UpstreamError {
            #expect(error.code == .timeout)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        pool.shutdown()
        try await server.stop()
    }

    @Test func aRefusedConnectionFailsAtOnce() async throws {
        let server = try await CountingServer(.answer)
        let endpoint = server.endpoint
        try await server.stop()
        let pool = pool()
        do {
            _ = try await pool.post(endpoint, path: "/", headers: [:], body: [], deadline: .now() + .seconds(5))
            Issue.record("a closed port answered")
        } catch let error as UpstreamError {
            #expect(error.code == .unreachable)
        }
        pool.shutdown()
    }
}
