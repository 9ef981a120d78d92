import Synchronization

/// Retries this node handed to the nodes holding their calls, each waiting for what that node
/// sends back (``InputRoundEvent``s) on a stream of its own, by number. Bounded: beyond
/// `capacity` waiting, a retry is refused at once (its stream ends empty).
package final class RoundRetryStreams: Sendable {
    private struct State {
        var next = 0
        var open: [Int: AsyncStream<InputRoundEvent>.Continuation] = [:]
    }

    /// Most retries waiting at once.
    package let capacity: Int
    private let state = Mutex(State())

    package init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// Registers a retry: its number and the stream of what comes back; `nil` when `capacity`
    /// retries wait already. When the reader stops reading before the reply (its client left),
    /// `abandoned` is called with the number.
    package func open(
        abandoned: @escaping @Sendable (Int) -> Void
    ) -> (number: Int, events: AsyncStream<InputRoundEvent>)? {
        let (events, continuation) = AsyncStream.makeStream(
            of: InputRoundEvent.self,
            bufferingPolicy: .bufferingNewest(256)
        )
        let number: Int? = state.withLock { state in
            guard state.open.count < capacity else { return nil }
            state.next += 1
            state.open[state.next] = continuation
            return state.next
        }
        guard let number else { return nil }
        continuation.onTermination = { [weak self] termination in
            let stillOpen = self?.state.withLock { $0.open.removeValue(forKey: number) } != nil
            if stillOpen, case .cancelled = termination { abandoned(number) }
        }
        return (number, events)
    }

    /// What the holding node sent for retry `number`; a reply ends its stream.
    package func deliver(_ event: InputRoundEvent, to number: Int) {
        guard case .reply = event else {
            _ = state.withLock { $0.open[number] }?.yield(event)
            return
        }
        let continuation = state.withLock { $0.open.removeValue(forKey: number) }
        continuation?.yield(event)
        continuation?.finish()
    }

    /// Retry `number` gets no reply (the holding node is gone): its stream ends empty.
    package func fail(_ number: Int) {
        state.withLock { $0.open.removeValue(forKey: number) }?.finish()
    }

    /// How many retries wait.
    package var count: Int { state.withLock { $0.open.count } }
}
