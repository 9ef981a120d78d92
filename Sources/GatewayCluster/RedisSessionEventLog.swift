import GatewayCore
import Logging
import ServiceLifecycle
import Synchronization

/// The replay buffer of client sessions in Redis, readable by every node: one Redis Stream per
/// session (`XADD … MAXLEN capacity`, expiring `retention` after its last event), so a client
/// whose stream was on a node that died resumes on any other with `Last-Event-ID`.
///
/// Recording never waits: events are queued and written by one writer task in pipelined
/// batches, in the order they were recorded. Events still queued when the node dies are lost with
/// it (they belonged to its in-flight work).
public final class RedisSessionEventLog: SessionEventLog, Service, Sendable {
    enum Write: Sendable {
        case event(session: String, LoggedEvent)
        case forget(session: String)
    }

    let redis: RedisClient
    let keyPrefix: String
    let capacity: Int
    let retention: Duration
    let logger: Logger
    private let queue = Mutex<[Write]>([])
    private let wakeUp: AsyncStream<Void>.Continuation
    private let wakeUps: AsyncStream<Void>
    /// Most writes queued while Redis is slow or away; beyond it events are dropped (counted).
    let maximumQueued = 100_000
    private let dropped = Atomic<Int>(0)

    public init(redis: RedisClient, keyPrefix: String, capacity: Int, retention: Duration, logger: Logger) {
        self.redis = redis
        self.keyPrefix = keyPrefix + "events:"
        self.capacity = capacity
        self.retention = retention
        self.logger = logger
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func key(_ session: String) -> String { keyPrefix + session }

    public func record(_ event: LoggedEvent, session: String) {
        enqueue(.event(session: session, event))
    }

    public func forget(session: String) {
        enqueue(.forget(session: session))
    }

    private func enqueue(_ write: Write) {
        let accepted = queue.withLock { queue in
            guard queue.count < maximumQueued else { return false }
            queue.append(write)
            return true
        }
        if accepted {
            wakeUp.yield()
        } else if dropped.add(1, ordering: .relaxed).newValue == 1 {
            logger.warning("replay events dropped: Redis is not keeping up")
        }
    }

    public func events(session: String, stream: String, after sequence: Int) async -> [LoggedEvent] {
        await flushed()
        let reply: RESPValue
        do {
            reply = try await redis.send(["XRANGE", .init(key(session)), "-", "+"])
        } catch {
            logger.warning("cannot read the replay buffer", metadata: ["error": "\(error)"])
            return []
        }
        return reply.elements.compactMap(Self.event).filter { $0.stream == stream && $0.sequence > sequence }
    }

    /// Writes queued events until graceful shutdown, then what is still queued.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runWriter() }
        let rest = queue.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
        if !rest.isEmpty { await write(rest) }
        finishFlush()
    }

    private func runWriter() async {
        for await _ in wakeUps {
            while true {
                let batch = queue.withLock { queue in
                    defer { queue.removeAll(keepingCapacity: true) }
                    return queue
                }
                if batch.isEmpty { break }
                await write(batch)
            }
            finishFlush()
        }
    }

    private func write(_ batch: [Write]) async {
        var commands: [[RESPArgument]] = []
        commands.reserveCapacity(batch.count * 2)
        var touched: Set<String> = []
        for write in batch {
            switch write {
            case .event(let session, let event):
                let key = key(session)
                commands.append([
                    "XADD", .init(key), "MAXLEN", .init(Int64(capacity)), "*",
                    "s", .init(event.stream), "q", .init(Int64(event.sequence)), "f", event.isFinal ? "1" : "0",
                    "d", .init(event.data),
                ])
                touched.insert(key)
            case .forget(let session):
                commands.append(["DEL", .init(key(session))])
                touched.remove(key(session))
            }
        }
        for key in touched { commands.append(["PEXPIRE", .init(key), .init(retention.milliseconds)]) }
        do {
            _ = try await redis.pipeline(commands)
        } catch {
            logger.warning("replay events not written", metadata: ["error": "\(error)", "events": "\(batch.count)"])
        }
    }

    // MARK: - Read-your-writes

    private let flushWaiters = Mutex<[CheckedContinuation<Void, Never>]>([])

    public func flush() async { await flushed() }

    /// Waits until what was recorded before the call is written (a replay on this node must see
    /// its own latest events).
    private func flushed() async {
        let pending = queue.withLock { !$0.isEmpty }
        guard pending else { return }
        await withCheckedContinuation { continuation in
            flushWaiters.withLock { $0.append(continuation) }
            wakeUp.yield()
        }
    }

    private func finishFlush() {
        let waiters = flushWaiters.withLock { waiters in
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// One `XRANGE` entry: `[id, [field, value, …]]`.
    static func event(_ entry: RESPValue) -> LoggedEvent? {
        let parts = entry.elements
        guard parts.count == 2 else { return nil }
        let fields = parts[1].elements
        var stream: String?
        var sequence: Int?
        var isFinal = false
        var data: [UInt8] = []
        var index = 0
        while index + 1 < fields.count {
            defer { index += 2 }
            switch fields[index].string {
            case "s": stream = fields[index + 1].string
            case "q": sequence = fields[index + 1].integer.map(Int.init)
            case "f": isFinal = fields[index + 1].string == "1"
            case "d": if case .bulk(let bytes) = fields[index + 1] { data = bytes }
            default: continue
            }
        }
        guard let stream, let sequence else { return nil }
        return LoggedEvent(stream: stream, sequence: sequence, data: data, isFinal: isFinal)
    }
}
