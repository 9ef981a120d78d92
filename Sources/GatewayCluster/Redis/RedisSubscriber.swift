import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A dedicated pub/sub connection: subscribes to fixed channels, hands each message to `onMessage`
/// in arrival order, and reconnects with back-off when the connection breaks or stops answering
/// pings. Messages published while it was away are lost (pub/sub is fire-and-forget), so
/// `onSubscribed` runs after every (re)subscription for the owner to catch up from the source of
/// truth.
public final class RedisSubscriber: Sendable {
    public typealias MessageHandler = @Sendable (_ channel: String, _ payload: [UInt8]) async -> Void

    let endpoint: RedisEndpoint
    let channels: [String]
    let logger: Logger
    /// How often the connection is pinged; three intervals without an answer drop it.
    let pingInterval: Duration
    private let connected = Atomic<Bool>(false)

    public init(
        endpoint: RedisEndpoint,
        channels: [String],
        pingInterval: Duration = .seconds(1),
        logger: Logger
    ) {
        self.endpoint = endpoint
        self.channels = channels
        self.pingInterval = pingInterval
        self.logger = logger
    }

    /// Whether the subscription is live right now.
    public var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// Keeps the subscription until cancelled or graceful shutdown.
    public func run(
        onMessage: @escaping MessageHandler,
        onSubscribed: @escaping @Sendable () async -> Void
    ) async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown {
                    try await self.subscribeOnce(onMessage: onMessage, onSubscribed: onSubscribed)
                }
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.warning("Redis subscription lost", metadata: ["error": "\(error)"])
            }
            // A subscription that was up starts the back-off afresh.
            if connected.load(ordering: .relaxed) { delay = .milliseconds(100) }
            connected.store(false, ordering: .relaxed)
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(2))
        }
        connected.store(false, ordering: .relaxed)
    }

    /// One connection's life: subscribe, deliver messages until it breaks.
    private func subscribeOnce(
        onMessage: MessageHandler,
        onSubscribed: @Sendable () async -> Void
    ) async throws {
        let (pushes, continuation) = AsyncStream.makeStream(of: RESPValue.self, bufferingPolicy: .unbounded)
        let connection = try await RedisConnection.connect(to: endpoint, commandTimeout: pingInterval * 3) { value in
            continuation.yield(value)
        }
        connection.channel.closeFuture.whenComplete { _ in continuation.finish() }
        defer { connection.close() }
        let reply = try await connection.send(["SUBSCRIBE"] + channels.map { RESPArgument($0) })
        try reply.orThrow("SUBSCRIBE")
        connected.store(true, ordering: .relaxed)
        await onSubscribed()
        let lastPong = PongCounter()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Keep-alive: Redis answers PING with a push while subscribed.
                var missed = 0
                while !Task.isCancelled {
                    let seen = lastPong.count.load(ordering: .relaxed)
                    connection.channel.writeAndFlush(RedisRequest(commands: [["PING"]], replies: []), promise: nil)
                    try? await Task.sleep(for: self.pingInterval)
                    missed = lastPong.count.load(ordering: .relaxed) == seen ? missed + 1 : 0
                    if missed >= 3 {
                        connection.close()
                        return
                    }
                }
            }
            for await push in pushes {
                let parts = push.elements
                guard let kind = parts.first?.string else { continue }
                switch kind {
                case "message" where parts.count == 3:
                    guard let channel = parts[1].string, case .bulk(let payload) = parts[2] else { continue }
                    await onMessage(channel, payload)
                case "pong":
                    lastPong.count.add(1, ordering: .relaxed)
                default:
                    continue
                }
            }
            group.cancelAll()
        }
        throw RedisError(.connectionLost, "subscriber connection closed")
    }
}

/// Pongs seen on a subscriber connection (shared with its keep-alive task).
final class PongCounter: Sendable {
    let count = Atomic<Int>(0)
}
