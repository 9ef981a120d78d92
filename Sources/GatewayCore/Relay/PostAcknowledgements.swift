import Synchronization

/// Messages this node posted to the nodes holding their connection-bound sessions, each waiting
/// for that node's verdict. Bounded: beyond `capacity` waiting, a post is refused at once.
package final class PostAcknowledgements: Sendable {
    private struct State {
        var next = 0
        var waiting: [Int: AsyncStream<PostOutcome>.Continuation] = [:]
    }

    /// Most posts waiting at once.
    package let capacity: Int
    private let state = Mutex(State())

    package init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// Registers a post and returns its number and the stream its verdict arrives on; `nil`
    /// when `capacity` posts are waiting already.
    package func register() -> (number: Int, verdict: AsyncStream<PostOutcome>)? {
        let (stream, continuation) = AsyncStream.makeStream(of: PostOutcome.self, bufferingPolicy: .bufferingNewest(1))
        let number: Int? = state.withLock { state in
            guard state.waiting.count < capacity else { return nil }
            state.next += 1
            state.waiting[state.next] = continuation
            return state.next
        }
        guard let number else { return nil }
        return (number, stream)
    }

    /// Settles post `number` (the first verdict wins; later ones are ignored).
    package func settle(_ number: Int, _ outcome: PostOutcome) {
        let continuation = state.withLock { $0.waiting.removeValue(forKey: number) }
        continuation?.yield(outcome)
        continuation?.finish()
    }

    /// How many posts are waiting.
    package var count: Int { state.withLock { $0.waiting.count } }
}
