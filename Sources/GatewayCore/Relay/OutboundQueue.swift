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
/// beyond `capacity` is refused and the caller decides what that means (a notification is
/// dropped, a request to the client fails at once). Only responses go past it.
public final class OutboundQueue: Sendable {
    /// What became of a push.
    public enum PushResult: Sendable, Equatable {
        case enqueued
        /// `capacity` events are already waiting.
        case full
        /// The stream has ended.
        case finished
    }

    struct State {
        var events = Deque<StreamEvent>()
        var waiter: CheckedContinuation<StreamEvent?, Never>?
        var finished = false
    }

    /// Most events waiting at once.
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Appends an event, or hands it straight to a waiting reader.
    @discardableResult
    public func push(_ event: StreamEvent) -> PushResult {
        let outcome: (PushResult, CheckedContinuation<StreamEvent?, Never>?) = state.withLock { state in
            if state.finished { return (.finished, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (.enqueued, waiter)
            }
            // Keep-alive comments never take the last slots and are skipped when anything waits.
            if event.isKeepAlive, !state.events.isEmpty { return (.enqueued, nil) }
            // A response is never refused: it is the message the client waits for.
            guard state.events.count < capacity || event.isEssential else { return (.full, nil) }
            state.events.append(event)
            return (.enqueued, nil)
        }
        outcome.1?.resume(returning: event)
        return outcome.0
    }

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
                    if let event = state.events.popFirst() { return .some(event) }
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
