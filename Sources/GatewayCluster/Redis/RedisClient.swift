import GatewayCore
import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

/// A small pool of pipelined command connections to Redis. A connection that breaks is replaced
/// on next use; after a failed connect the slot backs off (100 ms doubling to 2 s) and commands
/// fail at once meanwhile, so a Redis outage never makes requests wait.
public final class RedisClient: Sendable {
    public struct Options: Sendable {
        /// Command connections (commands are pipelined on each).
        public var connections: Int = 4
        /// A reply later than this closes its connection and fails the command.
        public var commandTimeout: Duration = .seconds(2)

        public init() {}
    }

    enum SlotState {
        case idle
        /// `afterFailure`: callers are refused meanwhile rather than made to wait for a Redis
        /// that just failed (only the very first connect is waited for).
        case connecting(EventLoopFuture<RedisConnection>, afterFailure: Bool)
        case connected(RedisConnection)
        case backingOff(until: ContinuousClock.Instant, delay: Duration)
    }

    let endpoint: RedisEndpoint
    let options: Options
    let logger: Logger
    /// One connection's state, shared with its connect callback.
    final class Slot: Sendable {
        let state = Mutex(SlotState.idle)
    }

    private let slots: [Slot]
    private let nextSlot = Atomic<Int>(0)
    /// Set by ``close()``: later commands fail instead of opening new connections.
    private let closed = Atomic<Bool>(false)
    /// Whether a command came after ``close()`` (a shutdown-order bug; logged once).
    private let usedAfterClose = Atomic<Bool>(false)
    /// Round trips (a pipeline counts once), waiting for a connection included.
    private let commandDuration = Timer(
        label: "mcpgateway_redis_command_duration_seconds",
        preferredDisplayUnit: .seconds
    )
    /// Commands and pipelines that failed: Redis unreachable, a timeout, or an error reply.
    private let errors = Counter(label: "mcpgateway_redis_errors_total")

    public init(endpoint: RedisEndpoint, options: Options = Options(), logger: Logger) {
        self.endpoint = endpoint
        self.options = options
        self.logger = logger
        self.slots = (0..<max(1, options.connections)).map { _ in Slot() }
    }

    /// Sends one command; error replies are thrown as ``RedisError/Code/replyError``.
    @discardableResult
    public func send(_ command: [RESPArgument]) async throws -> RESPValue {
        try await measured {
            let reply = try await connection().send(command)
            return try reply.orThrow(command.first.map { String(decoding: $0.bytes, as: UTF8.self) } ?? "command")
        }
    }

    /// Sends commands in one write; returns every reply (error replies included, not thrown).
    public func pipeline(_ commands: [[RESPArgument]]) async throws -> [RESPValue] {
        try await measured { try await connection().pipeline(commands) }
    }

    private func measured<T>(_ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        defer { commandDuration.record(duration: start.duration(to: .now)) }
        do {
            return try await body()
        } catch {
            errors.increment()
            throw error
        }
    }

    /// Command connections open now (the subscriber's is not counted).
    public var openConnections: Int {
        slots.reduce(0) { open, slot in
            slot.state.withLock { state in
                if case .connected(let connection) = state, connection.isActive { return open + 1 }
                return open
            }
        }
    }

    /// Runs a Lua script by its body (`EVAL`; scripts here are tiny and sent rarely).
    public func eval(_ script: String, keys: [String], arguments: [RESPArgument]) async throws -> RESPValue {
        var command: [RESPArgument] = ["EVAL", .init(script), .init(Int64(keys.count))]
        command += keys.map { RESPArgument($0) }
        command += arguments
        return try await send(command)
    }

    /// Closes every connection; commands sent afterwards fail (and the first is logged as the
    /// bug it is: whatever sent it should have stopped before the client closed).
    public func close() {
        closed.store(true, ordering: .relaxed)
        for slot in slots {
            let state = slot.state.withLock { state in
                defer { state = .idle }
                return state
            }
            if case .connected(let connection) = state { connection.close() }
        }
    }

    private func connection() async throws -> RedisConnection {
        if closed.load(ordering: .relaxed) {
            if !usedAfterClose.exchange(true, ordering: .relaxed) {
                logger.error("Redis command sent after the Redis client closed")
            }
            throw RedisError(.unavailable, "Redis client closed")
        }
        let start = nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue
        // A slot that is down is skipped for the next one that is up.
        for offset in 0..<slots.count {
            switch take(slots[(start + offset) % slots.count]) {
            case .ready(let connection): return connection
            case .wait(let future): return try await future.get()
            case .refuse: continue
            }
        }
        throw RedisError(.unavailable, "Redis unavailable (reconnecting)")
    }

    private enum Next {
        case ready(RedisConnection)
        case wait(EventLoopFuture<RedisConnection>)
        case refuse
    }

    private func take(_ slot: Slot) -> Next {
        let now = ContinuousClock.now
        return slot.state.withLock { state in
            switch state {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let future, let afterFailure):
                return afterFailure ? .refuse : .wait(future)
            case .backingOff(let until, _) where now < until:
                return .refuse
            case .backingOff(_, let previous):
                state = .connecting(connect(slot: slot, previousDelay: previous), afterFailure: true)
                return .refuse
            case .connected:
                // It broke: reconnect in the background; this caller tries another slot.
                state = .connecting(connect(slot: slot, previousDelay: .zero), afterFailure: true)
                return .refuse
            case .idle:
                let future = connect(slot: slot, previousDelay: .zero)
                state = .connecting(future, afterFailure: false)
                return .wait(future)
            }
        }
    }

    private func connect(slot: Slot, previousDelay: Duration) -> EventLoopFuture<RedisConnection> {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let endpoint = endpoint
        let timeout = options.commandTimeout
        let logger = logger
        let future = loop.makeFutureWithTask {
            try await RedisConnection.connect(to: endpoint, commandTimeout: timeout)
        }
        future.whenComplete { result in
            slot.state.withLock { state in
                switch result {
                case .success(let connection):
                    state = .connected(connection)
                case .failure(let error):
                    let delay = min(max(previousDelay * 2, .milliseconds(100)), .seconds(2))
                    state = .backingOff(until: .now + delay, delay: delay)
                    logger.warning(
                        "Redis connection failed",
                        metadata: [
                            "error": "\(error)",
                            "retry.ms": "\(delay.milliseconds)",
                        ]
                    )
                }
            }
        }
        return future
    }
}
