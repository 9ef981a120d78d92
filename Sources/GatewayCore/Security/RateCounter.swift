import Synchronization

/// Counts requests per key in fixed windows. The embedded default counts in process; the
/// cluster backs the same protocol with Redis (INCR + PEXPIRE) so limits hold across nodes.
public protocol RateCounter: Sendable {
    /// Counts one request for `key` and returns how many fell in its current window of
    /// `window`, and the milliseconds until that window ends.
    func hit(_ key: String, window: Duration) async throws -> (count: Int, resetInMilliseconds: Int64)
}

/// ``RateCounter`` in process memory: ``RateWindows`` on the continuous clock, behind a lock;
/// at most `capacity` keys (the oldest windows are evicted first), each hit O(1).
public final class InProcessRateCounter: RateCounter {
    private let windows: Mutex<RateWindows<ContinuousClock.Instant>>

    public init(capacity: Int = 100_000) {
        windows = Mutex(RateWindows(capacity: capacity))
    }

    public func hit(_ key: String, window: Duration) -> (count: Int, resetInMilliseconds: Int64) {
        let now = ContinuousClock.now
        let (count, resetIn) = windows.withLock { $0.hit(key, window: window, now: now) }
        return (count, resetIn.milliseconds)
    }

    /// How many keys are counted.
    public var keyCount: Int { windows.withLock { $0.count } }
}
