import GatewayCore
import Logging
import ServiceLifecycle
import Synchronization

/// The replay buffer of client sessions in Redis, readable by every node: one Redis Stream per
/// session, expiring `retention` after its last event, so a client whose stream was on a node
/// that died resumes on any other with `Last-Event-ID`.
///
/// Each session's stream is bounded in events and in bytes: one script appends an event, adds its
/// size to the session's size record (`…:bytes`, expiring with the stream) and trims the oldest
/// events until both bounds hold. An event larger than the byte bound is not kept at all. Events
/// waiting to be written are bounded by the node's byte budget.
///
/// Recording never waits: events are queued and written by one writer task in pipelined
/// batches, in the order they were recorded. Events still queued when the node dies are lost with
/// it (they belonged to its in-flight work).
public final class RedisSessionEventLog: SessionEventLog, Service, Sendable {
    enum Write: Sendable {
        case event(session: String, LoggedEvent)
        case forget(session: String)
    }

    struct State {
        var queue: [Write] = []
        /// Bytes of the events waiting in `queue`.
        var queuedBytes = 0
        /// Writes accepted so far, and how many of them are in Redis (or given up on).
        var enqueued = 0
        var written = 0
        /// Callers of ``flush()`` waiting for `written` to reach their target.
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
        /// After shutdown nothing is written any more and nobody waits.
        var stopped = false
    }

    let redis: RedisClient
    let keyPrefix: String
    let limits: ReplayBuffers<ContinuousClock.Instant>.Limits
    var retention: Duration { limits.retention }
    let logger: Logger
    private let state = Mutex(State())
    private let wakeUp: AsyncStream<Void>.Continuation
    private let wakeUps: AsyncStream<Void>
    /// Most writes queued while Redis is slow or away; beyond it events are dropped (counted).
    let maximumQueued = 100_000
    /// Commands per pipelined write (a backlog after an outage goes out in slices).
    let batchSize = 512
    private let dropped = Atomic<Int>(0)

    public init(
        redis: RedisClient,
        keyPrefix: String,
        limits: ReplayBuffers<ContinuousClock.Instant>.Limits,
        logger: Logger
    ) {
        self.redis = redis
        self.keyPrefix = keyPrefix + "events:"
        self.limits = limits
        self.logger = logger
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func key(_ session: String) -> String { keyPrefix + session }
    /// The session's size record: the bytes its stream holds, as the trim script counts them.
    func sizeKey(_ session: String) -> String { keyPrefix + session + ":bytes" }

    public func record(_ event: LoggedEvent, session: String) {
        let bytes = ReplayBuffers<ContinuousClock.Instant>.cost(of: event)
        guard bytes <= limits.bytesPerSession else { return }
        enqueue(.event(session: session, event), bytes: bytes)
    }

    public func forget(session: String) {
        enqueue(.forget(session: session), bytes: 0)
    }

    private func enqueue(_ write: Write, bytes: Int) {
        let accepted = state.withLock { state in
            guard !state.stopped, state.queue.count < maximumQueued,
                state.queuedBytes + bytes <= limits.totalBytes
            else { return false }
            state.queue.append(write)
            state.queuedBytes += bytes
            state.enqueued += 1
            return true
        }
        if accepted {
            wakeUp.yield()
        } else if dropped.add(1, ordering: .relaxed).newValue == 1 {
            logger.warning("replay events dropped: Redis is not keeping up")
        }
    }

    public func events(session: String, stream: String, after sequence: Int) async -> [LoggedEvent] {
        await flush()
        let reply: RESPValue
        do {
            reply = try await redis.send(["XRANGE", .init(key(session)), "-", "+"])
        } catch {
            logger.warning("cannot read the replay buffer", metadata: ["error": "\(error)"])
            return []
        }
        let kept = reply.elements.compactMap(Self.event).filter { $0.stream == stream }
        // By position when the event named is still kept (the order in Redis is the order events
        // were written, whichever node's clock numbered them); by number otherwise.
        if let index = kept.firstIndex(where: { $0.sequence == sequence }) {
            return Array(kept[(index + 1)...])
        }
        return kept.filter { $0.sequence > sequence }
    }

    /// Returns once everything recorded before the call is in Redis (or was given up on).
    public func flush() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.stopped || state.written >= state.enqueued { return true }
                state.waiters.append((state.enqueued, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Writes queued events until graceful shutdown, then what is still queued.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runWriter() }
        await writeQueued()
        let waiters = state.withLock { state in
            state.stopped = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    private func runWriter() async {
        for await _ in wakeUps { await writeQueued() }
    }

    private func writeQueued() async {
        while true {
            let batch = state.withLock { state in
                let taken = Array(state.queue.prefix(batchSize))
                state.queue.removeFirst(taken.count)
                for case .event(_, let event) in taken {
                    state.queuedBytes -= ReplayBuffers<ContinuousClock.Instant>.cost(of: event)
                }
                return taken
            }
            if batch.isEmpty { return }
            await write(batch)
            let resumed = state.withLock { state in
                state.written += batch.count
                let written = state.written
                let (ready, waiting) = (
                    state.waiters.filter { $0.target <= written }, state.waiters.filter { $0.target > written }
                )
                state.waiters = waiting
                return ready
            }
            for waiter in resumed { waiter.continuation.resume() }
        }
    }

    private func write(_ batch: [Write]) async {
        var commands: [[RESPArgument]] = []
        commands.reserveCapacity(batch.count)
        for write in batch {
            switch write {
            case .event(let session, let event):
                commands.append([
                    "EVAL", .init(Self.appendScript), "2", .init(key(session)), .init(sizeKey(session)),
                    .init(Int64(limits.eventsPerSession)), .init(Int64(limits.bytesPerSession)),
                    .init(retention.milliseconds), .init(Int64(ReplayBuffers<ContinuousClock.Instant>.cost(of: event))),
                    .init(event.stream), .init(Int64(event.sequence)), event.isFinal ? "1" : "0", .init(event.data),
                ])
            case .forget(let session):
                commands.append(["DEL", .init(key(session)), .init(sizeKey(session))])
            }
        }
        do {
            let replies = try await redis.pipeline(commands)
            let refused = replies.filter { if case .error = $0 { true } else { false } }
            if let first = refused.first {
                logger.warning(
                    "replay events refused by Redis",
                    metadata: ["error": "\(first)", "events": "\(refused.count)"]
                )
            }
        } catch {
            logger.warning("replay events not written", metadata: ["error": "\(error)", "events": "\(batch.count)"])
        }
    }

    /// Appends one event (ARGV: most events, most bytes, retention in ms, the event's cost, stream,
    /// sequence, final flag, data), then trims the oldest until both bounds hold; both keys expire
    /// with the retention. Entries carry their cost (`n`) so the trim subtracts what was added.
    static let appendScript = """
        redis.call('XADD', KEYS[1], '*', 's', ARGV[5], 'q', ARGV[6], 'f', ARGV[7], 'd', ARGV[8], 'n', ARGV[4])
        local total = redis.call('INCRBY', KEYS[2], ARGV[4])
        local count = redis.call('XLEN', KEYS[1])
        while count > tonumber(ARGV[1]) or total > tonumber(ARGV[2]) do
          local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
          if not first then break end
          local cost = 0
          for i = 1, #first[2], 2 do if first[2][i] == 'n' then cost = tonumber(first[2][i + 1]) end end
          redis.call('XDEL', KEYS[1], first[1])
          total = redis.call('DECRBY', KEYS[2], cost)
          count = count - 1
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[3])
        return total
        """

    /// One `XRANGE` entry: `[id, [field, value, …]]`.
    static func event(_ entry: RESPValue) -> LoggedEvent? {
        let parts = entry.elements
        guard parts.count == 2 else { return nil }
        var stream: String?
        var sequence: Int?
        var isFinal = false
        var data: [UInt8] = []
        for (field, value) in parts[1].pairs {
            switch field.string {
            case "s": stream = value.string
            case "q": sequence = value.integer.map(Int.init)
            case "f": isFinal = value.string == "1"
            case "d": if case .bulk(let bytes) = value { data = bytes }
            default: continue
            }
        }
        guard let stream, let sequence else { return nil }
        return LoggedEvent(stream: stream, sequence: sequence, data: data, isFinal: isFinal)
    }
}
