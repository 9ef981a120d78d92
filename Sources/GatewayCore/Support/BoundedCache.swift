import Synchronization

/// Results that are costly to recompute and never change for a key (verified tokens, opened
/// session ids), kept for the hot path. When the cache reaches `capacity` it starts over empty,
/// so memory stays bounded whatever keys clients send.
package final class BoundedCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: Value]>([:])
    let capacity: Int

    package init(capacity: Int) {
        self.capacity = capacity
    }

    /// The value cached for `key`.
    package func value(for key: String) -> Value? {
        entries.withLock { $0[key] }
    }

    /// Caches `value` for `key`.
    package func store(_ value: Value, for key: String) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = value
        }
    }
}
