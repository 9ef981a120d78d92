import Synchronization

/// Counts requests per key in fixed windows. The embedded default counts in process; the
/// cluster backs the same protocol with Redis (INCR + PEXPIRE) so limits hold across nodes.
public protocol RateCounter: Sendable {
    /// Counts one request for `key` and returns how many fell in its current window of
    /// `window`, and the milliseconds until that window ends.
    func hit(_ key: String, window: Duration) async throws -> (count: Int, resetInMilliseconds: Int64)
}

/// ``RateCounter`` in process memory; bounded (stale windows are dropped when it grows).
public final class InProcessRateCounter: RateCounter {
    private let windows = Mutex<[String: (start: ContinuousClock.Instant, count: Int)]>([:])
    let capacity: Int

    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    public func hit(_ key: String, window: Duration) -> (count: Int, resetInMilliseconds: Int64) {
        let now = ContinuousClock.now
        return windows.withLock { windows in
            if windows.count >= capacity { windows = windows.filter { now - $0.value.start < window } }
            var entry = windows[key] ?? (now, 0)
            if now - entry.start >= window { entry = (now, 0) }
            entry.count += 1
            windows[key] = entry
            let left = window - (now - entry.start)
            return (entry.count, left.milliseconds)
        }
    }
}
