import Foundation
import GatewayCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Testing

@testable import GatewayUpstream

/// A loopback HTTP server (optionally TLS) for the connector and stream tests: answers POSTs with
/// `{}` and GETs with an SSE stream that announces an endpoint and stays open, or never answers;
/// records the connections it accepted and the SNI names it was sent.
final class StreamingServer: Sendable {
    enum Behaviour: Sendable { case answer, neverAnswer }

    final class Record: Sendable {
        let accepted = Atomic<Int>(0)
        let serverNames = Mutex<[String?]>([])
    }

    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let behaviour: Behaviour
        init(behaviour: Behaviour) { self.behaviour = behaviour }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard behaviour == .answer, case .head(let request) = unwrapInboundIn(data) else { return }
            let stream = request.method == .GET
            let headers = HTTPHeaders(
                stream
                    ? [("content-type", "text/event-stream")]
                    : [("content-type", "application/json"), ("content-length", "2")]
            )
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                promise: nil
            )
            let body = stream ? "event: endpoint\ndata: /messages?session=1\n\n" : "{}"
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            if stream { context.flush() } else { context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil) }
        }
    }

    let channel: any Channel
    let record = Record()

    /// Listens on `address`, over TLS with `identity` when given.
    init(
        _ behaviour: Behaviour,
        at address: SocketAddress,
        identity: (NIOSSLCertificate, NIOSSLPrivateKey)? = nil
    ) async throws {
        let record = record
        var sslContext: NIOSSLContext?
        if let (certificate, key) = identity {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(certificate)],
                privateKey: .privateKey(key)
            )
            configuration.sslContextCallback = { values, promise in
                record.serverNames.withLock { $0.append(values.serverHostname) }
                promise.succeed(.noChanges)
            }
            sslContext = try NIOSSLContext(configuration: configuration)
        }
        let context = sslContext
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                record.accepted.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(behaviour: behaviour))
                }
            }
            .bind(to: address).get()
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    var accepted: Int { record.accepted.load(ordering: .relaxed) }
    var serverNames: [String?] { record.serverNames.withLock { $0 } }

    func stop() async throws { try await channel.close() }
}

/// A self-signed certificate for `localhost` only (no IP address) and its key, made for this run
/// with the openssl tool, so no key material lives in the repository.
enum TestIdentity {
    static func make() throws -> (NIOSSLCertificate, NIOSSLPrivateKey) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("certificate.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "the openssl tool could not make a test certificate")
        let chain = try NIOSSLCertificate.fromPEMFile(certificate)
        return (try #require(chain.first), try NIOSSLPrivateKey(file: key, format: .pem))
    }
}

@Suite struct UpstreamConnectorTests {
    func pool(allowLocalhost: Bool = true, trusting certificate: NIOSSLCertificate? = nil) -> HTTP1ConnectionPool {
        var options = HTTP1ConnectionPool.Options(
            maximumConnectionsPerEndpoint: 4,
            idleTimeout: .seconds(4),
            connectTimeout: .seconds(2),
            maximumResponseBytes: 1 << 20,
            addressGuard: UpstreamAddressGuard(policy: NetworkPolicy(allowLocalhost: allowLocalhost))
        )
        if let certificate { options.tlsConfiguration.trustRoots = .certificates([certificate]) }
        return HTTP1ConnectionPool(options: options)
    }

    /// The address `localhost` resolves to first: the one the guard hands the connector.
    func localhost() async throws -> SocketAddress {
        let addresses = try await UpstreamAddressGuard.resolve("localhost", port: 0)
        return try #require(addresses.first)
    }

    @Test func tlsSendsAndVerifiesTheURLHostNameWhileConnectingToTheCheckedAddress() async throws {
        let identity = try TestIdentity.make()
        let server = try await StreamingServer(.answer, at: try await localhost(), identity: identity)
        let pool = pool(trusting: identity.0)
        let endpoint = HTTP1Endpoint(host: "localhost", port: server.port, tls: true)
        let response = try await pool.post(
            endpoint,
            path: "/mcp",
            headers: [:],
            body: [],
            deadline: .now() + .seconds(5)
        )
        #expect(response.status == 200)
        #expect(String(buffer: response.body) == "{}")
        #expect(server.serverNames == ["localhost"])
        pool.shutdown()
        try await server.stop()
    }

    @Test func tlsRefusesACertificateThatDoesNotNameTheURLHost() async throws {
        let identity = try TestIdentity.make()
        let address = try await localhost()
        let server = try await StreamingServer(.answer, at: address, identity: identity)
        let pool = pool(trusting: identity.0)
        // The same server at the same address, named by its IP: the certificate names only
        // `localhost`, so the handshake must fail.
        let ip = try #require(address.ipAddress)
        let host = address.protocol == .inet6 ? "[\(ip)]" : ip
        let endpoint = HTTP1Endpoint(host: host, port: server.port, tls: true)
        do {
            _ = try await pool.post(endpoint, path: "/mcp", headers: [:], body: [], deadline: .now() + .seconds(5))
            Issue.record("a certificate for another name was accepted")
        } catch let error as UpstreamError {
            #expect(error.code == .unreachable)
            #expect(error.message.contains("TLS"))
        }
        #expect(server.serverNames == [nil])
        pool.shutdown()
        try await server.stop()
    }

    @Test func aStreamDeliversTheBodyAsItArrives() async throws {
        let server = try await StreamingServer(.answer, at: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
        let pool = pool()
        let endpoint = HTTP1Endpoint(host: "127.0.0.1", port: server.port)
        // The server never ends the response: the first chunk must arrive while it is open.
        let first = try await pool.stream(endpoint, path: "/sse", headers: [:], deadline: .now() + .seconds(5)) {
            head,
            body in
            #expect(head.status == .ok)
            var chunks = body.makeAsyncIterator()
            return try await chunks.next().map { String(buffer: $0) }
        }
        #expect(first == "event: endpoint\ndata: /messages?session=1\n\n")
        pool.shutdown()
        try await server.stop()
    }

    @Test func aStreamOverTLSReadsLikeAPlainOne() async throws {
        let identity = try TestIdentity.make()
        let server = try await StreamingServer(.answer, at: try await localhost(), identity: identity)
        let pool = pool(trusting: identity.0)
        let endpoint = HTTP1Endpoint(host: "localhost", port: server.port, tls: true)
        let first = try await pool.stream(endpoint, path: "/sse", headers: [:], deadline: .now() + .seconds(5)) {
            _,
            body in
            var chunks = body.makeAsyncIterator()
            return try await chunks.next().map { String(buffer: $0) }
        }
        #expect(first?.hasPrefix("event: endpoint") == true)
        #expect(server.serverNames == ["localhost"])
        pool.shutdown()
        try await server.stop()
    }

    @Test func aStreamWithoutAHeadFailsAtTheDeadline() async throws {
        let server = try await StreamingServer(.neverAnswer, at: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
        let pool = pool()
        let endpoint = HTTP1Endpoint(host: "127.0.0.1", port: server.port)
        let started = ContinuousClock.now
        do {
            _ = try await pool.stream(endpoint, path: "/sse", headers: [:], deadline: .now() + .milliseconds(200)) {
                _,
                _ in
                Issue.record("a silent upstream answered")
            }
        } catch let error as UpstreamError {
            #expect(error.code == .timeout)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        pool.shutdown()
        try await server.stop()
    }

    @Test func aStreamToARefusedAddressNeverConnects() async throws {
        let server = try await StreamingServer(.answer, at: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
        let pool = pool(allowLocalhost: false)
        let endpoint = HTTP1Endpoint(host: "127.0.0.1", port: server.port)
        do {
            _ = try await pool.stream(endpoint, path: "/sse", headers: [:], deadline: .now() + .seconds(5)) { _, _ in
                Issue.record("a refused address was connected to")
            }
        } catch let error as UpstreamError {
            #expect(error.code == .blocked)
            #expect(error.message.contains("loopback"))
        }
        #expect(server.accepted == 0)
        pool.shutdown()
        try await server.stop()
    }

    @Test func endpointsParseHTTPAndHTTPSOnly() {
        let plain = HTTP1Endpoint.parse("http://rebind.test:8080/messages/?session_id=abc")
        #expect(plain?.endpoint == HTTP1Endpoint(host: "rebind.test", port: 8080))
        #expect(plain?.path == "/messages/?session_id=abc")
        let secure = HTTP1Endpoint.parse("https://Example.com")
        #expect(secure?.endpoint == HTTP1Endpoint(host: "Example.com", port: 443, tls: true))
        #expect(secure?.path == "/")
        #expect(secure?.endpoint.serverName == "Example.com")
        #expect(HTTP1Endpoint(host: "[::1]", port: 443, tls: true).serverName == nil)
        #expect(HTTP1Endpoint(host: "10.0.0.1", port: 443, tls: true).serverName == nil)
        #expect(HTTP1Endpoint.parse("ftp://example.com/") == nil)
        #expect(secure?.endpoint.hostHeader == "Example.com")
        #expect(plain?.endpoint.hostHeader == "rebind.test:8080")
    }
}
