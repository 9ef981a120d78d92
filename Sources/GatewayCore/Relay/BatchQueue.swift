import Synchronization

/// A bounded FIFO taken in batches by one task, which `wakeUps` wakes when items arrive. Beyond
/// `capacity` waiting, items are dropped (what it carries is best effort: a forwarded event stays
/// replayable, a lost answer times out).
package final class BatchQueue<Item: Sendable>: Sendable {
    private let queue = Mutex<[Item]>([])
    package let wakeUps: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation
    /// Most items waiting.
    package let capacity: Int

    package init(capacity: Int) {
        self.capacity = capacity
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    package func enqueue(_ item: Item) {
        let accepted = queue.withLock { queue in
            guard queue.count < capacity else { return false }
            queue.append(item)
            return true
        }
        if accepted { wakeUp.yield() }
    }

    /// How many items are waiting.
    package var count: Int { queue.withLock { $0.count } }

    /// Everything queued, in order.
    package func take() -> [Item] {
        queue.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }
}
