import NIOCore
import NIOPosix
import NIOSSL

/// Pairs replies with the commands sent on one connection, in order (Redis answers in order), or
/// hands every reply to `onPush` on a subscriber connection.
final class RedisReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private var pending = CircularBuffer<EventLoopPromise<RESPValue>>()
    private let onPush: (@Sendable (RESPValue) -> Void)?
    /// `host:port`, for errors.
    private let server: String
    /// Cleared when the channel goes inactive: later writes fail their replies at once (a write
    /// queued behind the close would otherwise leave its caller waiting forever).
    private var isOpen = true

    init(server: String, onPush: (@Sendable (RESPValue) -> Void)?) {
        self.server = server
        self.onPush = onPush
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard isOpen else {
            let error = RedisError(.connectionLost, "connection closed")
            for reply in request.replies { reply.fail(error) }
            promise?.fail(error)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            for command in request.commands { try RESPEncoder.write(command, into: &buffer) }
        } catch {
            for reply in request.replies { reply.fail(error) }
            promise?.fail(error)
            return
        }
        for reply in request.replies { pending.append(reply) }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if let next = pending.popFirst() {
            next.succeed(value)
        } else if let onPush {
            onPush(value)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        failAll(RedisError(.connectionLost, "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIOSSL reports a failed handshake here before it fails the writes it held back.
        failAll(RedisError.tlsHandshake(error, server: server) ?? RedisError(.connectionLost, "\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let next = pending.popFirst() { next.fail(error) }
    }
}

/// Commands written together (one flush) and the promises of their replies, in order.
struct RedisRequest {
    var commands: [[RESPArgument]]
    var replies: [EventLoopPromise<RESPValue>]
}

/// One connection to Redis over SwiftNIO. Commands may be pipelined from any task.
final class RedisConnection: Sendable {
    let channel: any Channel
    let commandTimeout: Duration
    /// `host:port`, for errors.
    let server: String

    private init(channel: any Channel, commandTimeout: Duration, server: String) {
        self.channel = channel
        self.commandTimeout = commandTimeout
        self.server = server
    }

    var isActive: Bool { channel.isActive }

    /// Connects (for `rediss://` over TLS, verifying the server) and authenticates; `onPush`
    /// receives replies nobody waits for (pub/sub messages).
    static func connect(
        to endpoint: RedisEndpoint,
        commandTimeout: Duration,
        onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws -> RedisConnection {
        let server = "\(endpoint.host):\(endpoint.port)"
        let sslContext = try endpoint.tls.map { tls in try makeSSLContext(tls, server: server) }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            let name = sniName(endpoint.host)
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: sslContext, serverHostname: name)
                            )
                        }
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(try RESPDecoder()),
                            RedisReplyHandler(server: server, onPush: onPush)
                        )
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw RedisError(.unavailable, "cannot connect to \(server)")
        }
        let connection = RedisConnection(channel: channel, commandTimeout: commandTimeout, server: server)
        do {
            if let password = endpoint.password {
                var auth: [RESPArgument] = ["AUTH"]
                if let username = endpoint.username { auth.append(.init(username)) }
                auth.append(.init(password))
                try await connection.send(auth).expectOK("AUTH")
            }
            if endpoint.database != 0 {
                try await connection.send(["SELECT", .init(Int64(endpoint.database))]).expectOK("SELECT")
            } else if endpoint.tls != nil && endpoint.password == nil {
                // NIOSSL holds writes until the handshake is done: a reply proves it succeeded,
                // so a server that is not trusted fails the connect, not a later command.
                _ = try await connection.send(["PING"])
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// The TLS context for one connection: full verification against the endpoint's roots.
    private static func makeSSLContext(_ tls: RedisTLS, server: String) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: tls.configuration)
        } catch {
            throw RedisError(.tlsFailed, "TLS set-up for \(server) failed: \(error)")
        }
    }

    /// The name sent as SNI and checked against the certificate; `nil` for an IP address (SNI
    /// cannot carry one; NIOSSL then matches the certificate's IP entries against the peer's).
    private static func sniName(_ host: String) -> String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    /// Sends one command and waits for its reply (an error reply is returned, not thrown).
    func send(_ command: [RESPArgument]) async throws -> RESPValue {
        try await pipeline([command])[0]
    }

    /// Sends commands in one write and returns their replies in order. A reply that does not
    /// come within the command timeout closes the connection (Redis is stuck or gone).
    func pipeline(_ commands: [[RESPArgument]]) async throws -> [RESPValue] {
        let loop = channel.eventLoop
        let replies = commands.map { _ in loop.makePromise(of: RESPValue.self) }
        // Every path completes every reply: the answer, a failed write, the connection closing,
        // or the timeout (completing a NIO promise again does nothing).
        let timeout = loop.scheduleTask(in: TimeAmount(commandTimeout)) { [channel, server] in
            let error = Self.timeoutError(channel: channel, server: server)
            for reply in replies { reply.fail(error) }
            channel.close(promise: nil)
        }
        let written = loop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            for reply in replies { reply.fail(RedisError(.connectionLost, "write failed: \(error)")) }
        }
        channel.writeAndFlush(RedisRequest(commands: commands, replies: replies), promise: written)
        defer { timeout.cancel() }
        var values: [RESPValue] = []
        values.reserveCapacity(replies.count)
        for reply in replies { values.append(try await reply.futureResult.get()) }
        return values
    }

    func close() {
        channel.close(promise: nil)
    }

    /// Why no reply came in time (on the channel's event loop). A TLS server that never sent its
    /// certificate never answered the handshake: most likely a plain port (Redis waits for a line).
    private static func timeoutError(channel: any Channel, server: String) -> RedisError {
        let tls = try? channel.pipeline.syncOperations.handler(type: NIOSSLHandler.self)
        if let tls, tls.peerCertificate == nil {
            return RedisError(
                .tlsFailed,
                "TLS handshake with \(server) failed: the server did not answer in TLS within the command timeout "
                    + "(a plain redis:// port?)"
            )
        }
        return RedisError(.connectionLost, "no reply within the command timeout")
    }
}

extension RESPValue {
    /// Throws unless the reply is `+OK`.
    func expectOK(_ command: String) throws {
        switch self {
        case .simple("OK"): return
        case .error(let message):
            throw RedisError(.replyError, "\(command) refused: \(message.prefix(120))")
        default:
            throw RedisError(.protocolViolation, "\(command): unexpected reply")
        }
    }

    /// Throws when the reply is an error reply.
    @discardableResult
    func orThrow(_ command: String) throws -> RESPValue {
        if case .error(let message) = self { throw RedisError(.replyError, "\(command): \(message.prefix(120))") }
        return self
    }
}

extension RedisError.Code {
    /// TLS could not be set up, or the handshake failed (server not trusted, wrong host name, or
    /// not a TLS port).
    public static let tlsFailed = RedisError.Code(rawValue: "tls_failed")
}

extension RedisError {
    /// A failed TLS handshake with `server` as a ``Code/tlsFailed`` error saying why in words an
    /// operator can act on; `nil` for any other error.
    static func tlsHandshake(_ error: any Error, server: String) -> RedisError? {
        let reason: String
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            reason = "the server's certificate is not valid for this host name or address"
        } else if case .handshakeFailed(let cause) = error as? NIOSSLError {
            reason = handshakeReason("\(cause)")
        } else {
            return nil
        }
        return RedisError(.tlsFailed, "TLS handshake with \(server) failed: \(reason)")
    }

    /// BoringSSL's reason for a failed handshake, explained when it is a common one.
    private static func handshakeReason(_ boringSSL: String) -> String {
        if boringSSL.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the server's certificate is not trusted (unknown CA, or expired) [CERTIFICATE_VERIFY_FAILED]"
        }
        if boringSSL.contains("WRONG_VERSION_NUMBER") {
            return "the server did not answer in TLS (a plain redis:// port?) [WRONG_VERSION_NUMBER]"
        }
        if boringSSL.contains("EOF during handshake") {
            return "the server closed the connection during the handshake (not a TLS port?)"
        }
        return String(boringSSL.prefix(300))
    }
}
