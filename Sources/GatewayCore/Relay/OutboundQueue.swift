import DequeModule
import Synchronization

/// One event for a client's stream: a JSON-RPC message with an optional SSE event id; with empty
/// `data`, a priming event (an id alone, so the client can resume from it) or, without an id, a
/// keep-alive comment.
public struct StreamEvent: Sendable {
    /// The SSE `id:` of the event, when the stream is resumable.
    public var id: String?
    /// The JSON-RPC message; empty for a priming event or a keep-alive comment.
    public var data: [UInt8]
    /// Whether this is the response that ends a call's stream.
    public var isFinal: Bool
    /// Whether the queue must take it even when full (responses: the messages a client waits for).
    public var isEssential: Bool

    public init(id: String? = nil, data: [UInt8], isFinal: Bool = false, isEssential: Bool = false) {
        self.id = id
        self.data = data
        self.isFinal = isFinal
        self.isEssential = isEssential || isFinal
    }

    /// A keep-alive comment.
    public static let keepAlive = StreamEvent(data: [])

    /// Whether this is a keep-alive comment.
    public var isKeepAlive: Bool { data.isEmpty && id == nil }
}

/// A bounded queue of events for one client stream, filled by any thread without waiting and
/// drained by the single task writing the stream.
///
/// The bound is what keeps a slow or stalled client from growing the gateway's memory: a push
/// beyond `capacity` events or `maximumBytes` is refused and the caller decides what that means
/// (a notification is dropped, a request to the client fails at once). Responses — the messages
/// a client waits for — go past `capacity`, but not past twice it nor past `maximumBytes`: a
/// client that keeps asking and never reads its stream overflows the queue, which then ends
/// (what waits is dropped) and calls `onOverflow`, whose owner closes the connection.
public final class OutboundQueue: Sendable {
    /// What became of a push.
    public enum PushResult: Sendable, Equatable {
        case enqueued
        /// `capacity` events (or `maximumBytes`) are already waiting.
        case full
        /// The stream has ended.
        case finished
    }

    struct State {
        var events = Deque<StreamEvent>()
        var bytes = 0
        var waiter: CheckedContinuation<StreamEvent?, Never>?
        var finished = false
        var overflowed = false
    }

    /// Most events waiting at once (responses may take up to twice as many).
    public let capacity: Int
    /// Most bytes of events waiting at once.
    public let maximumBytes: Int
    private let onOverflow: (@Sendable () -> Void)?
    private let state = Mutex(State())

    /// - Parameter onOverflow: called once, outside any lock, when a response finds the queue
    ///   past its hard bounds: the client is not reading, so its connection should be closed.
    ///   Without it (a queue whose owner cannot close the connection) responses are always taken.
    public init(capacity: Int, maximumBytes: Int = 16 << 20, onOverflow: (@Sendable () -> Void)? = nil) {
        self.capacity = capacity
        self.maximumBytes = maximumBytes
        self.onOverflow = onOverflow
    }

    /// Appends an event, or hands it straight to a waiting reader.
    @discardableResult
    public func push(_ event: StreamEvent) -> PushResult {
        let outcome: (PushResult, CheckedContinuation<StreamEvent?, Never>?, overflowed: Bool) = state.withLock {
            state in
            if state.finished { return (.finished, nil, false) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (.enqueued, waiter, false)
            }
            // Keep-alive comments never take the last slots and are skipped when anything waits.
            if event.isKeepAlive, !state.events.isEmpty { return (.enqueued, nil, false) }
            if state.events.count < capacity, state.bytes + event.data.count <= maximumBytes {
                state.append(event)
                return (.enqueued, nil, false)
            }
            guard event.isEssential else { return (.full, nil, false) }
            // A response is taken while the queue is within its hard bounds (whatever its own
            // size: one large answer to a client that reads is not an overflow).
            if onOverflow == nil || state.events.isEmpty
                || (state.events.count < 2 * capacity && state.bytes < maximumBytes)
            {
                state.append(event)
                return (.enqueued, nil, false)
            }
            // A response past the hard bounds: the client does not read. The stream ends.
            state.finished = true
            state.overflowed = true
            state.events.removeAll()
            state.bytes = 0
            return (.full, nil, true)
        }
        outcome.1?.resume(returning: event)
        if outcome.overflowed { onOverflow?() }
        return outcome.0
    }

    /// Whether the queue ended because a response found it past its hard bounds.
    public var isOverflowed: Bool { state.withLock { $0.overflowed } }

    /// Ends the stream: the reader gets what is queued, then `nil`.
    public func finish() {
        let waiter: CheckedContinuation<StreamEvent?, Never>? = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Whether ``finish()`` was called.
    public var isFinished: Bool { state.withLock { $0.finished } }

    /// The next event; `nil` once the queue is finished and drained, or when the reading task is
    /// cancelled.
    public func next() async -> StreamEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<StreamEvent?, Never>) in
                let ready: StreamEvent?? = state.withLock { state in
                    if let event = state.events.popFirst() {
                        state.bytes -= event.data.count
                        return .some(event)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if case .some(let event) = ready { continuation.resume(returning: event) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<StreamEvent?, Never>? = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}

extension OutboundQueue.State {
    mutating func append(_ event: StreamEvent) {
        events.append(event)
        bytes += event.data.count
    }
}
