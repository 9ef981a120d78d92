import NIOCore
import NIOPosix

/// Pairs replies with the commands sent on one connection, in order (Redis answers in order), or
/// hands every reply to `onPush` on a subscriber connection.
final class RedisReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private var pending = CircularBuffer<EventLoopPromise<RESPValue>>()
    private let onPush: (@Sendable (RESPValue) -> Void)?
    /// Cleared when the channel goes inactive: later writes fail their replies at once (a write
    /// queued behind the close would otherwise leave its caller waiting forever).
    private var isOpen = true

    init(onPush: (@Sendable (RESPValue) -> Void)?) {
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
        failAll(RedisError(.connectionLost, "\(error)"))
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

    private init(channel: any Channel, commandTimeout: Duration) {
        self.channel = channel
        self.commandTimeout = commandTimeout
    }

    var isActive: Bool { channel.isActive }

    /// Connects and authenticates; `onPush` receives replies nobody waits for (pub/sub messages).
    static func connect(
        to endpoint: RedisEndpoint,
        commandTimeout: Duration,
        onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws -> RedisConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(try RESPDecoder()),
                            RedisReplyHandler(onPush: onPush)
                        )
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw RedisError(.unavailable, "cannot connect to \(endpoint.host):\(endpoint.port)")
        }
        let connection = RedisConnection(channel: channel, commandTimeout: commandTimeout)
        do {
            if let password = endpoint.password {
                var auth: [RESPArgument] = ["AUTH"]
                if let username = endpoint.username { auth.append(.init(username)) }
                auth.append(.init(password))
                try await connection.send(auth).expectOK("AUTH")
            }
            if endpoint.database != 0 {
                try await connection.send(["SELECT", .init(Int64(endpoint.database))]).expectOK("SELECT")
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
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
        let timeout = loop.scheduleTask(in: TimeAmount(commandTimeout)) { [channel] in
            let error = RedisError(.connectionLost, "no reply within the command timeout")
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
