import DequeModule

/// Fixed-window request counts per key, as a value with no clock of its own (time comes in with
/// each hit), so the bound and the eviction are tested without sleeping.
///
/// Each hit is O(1) amortized. At most `capacity` keys are counted: a new key beyond it evicts
/// the key whose window started longest ago (the windows of one limiter all have one length, so
/// that is the window nearest its end). Windows that ended are dropped as hits pass them, so
/// the order kept for eviction stays bounded by the live keys.
public struct RateWindows<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    struct Window: Sendable {
        var start: Instant
        var count: Int
    }

    /// Keys in the order their current window started (entries of keys whose window restarted
    /// since are stale and skipped).
    private var order: Deque<(key: String, start: Instant, window: Duration)> = []
    private var windows: [String: Window] = [:]
    /// Most keys counted at once.
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Counts one hit for `key` and returns the count in its window and the time until the
    /// window ends.
    public mutating func hit(_ key: String, window: Duration, now: Instant) -> (count: Int, resetIn: Duration) {
        dropEnded(now: now, atMost: 2)
        if var current = windows[key], current.start.duration(to: now) < window {
            current.count += 1
            windows[key] = current
            return (current.count, window - current.start.duration(to: now))
        }
        if windows[key] == nil {
            while windows.count >= capacity, evictOldest() {}
        }
        windows[key] = Window(start: now, count: 1)
        order.append((key, now, window))
        return (1, window)
    }

    /// How many keys are counted.
    public var count: Int { windows.count }

    /// Drops up to `limit` entries at the front whose window ended or restarted.
    private mutating func dropEnded(now: Instant, atMost limit: Int) {
        for _ in 0..<limit {
            guard let first = order.first else { return }
            let current = windows[first.key]
            let stale = current?.start != first.start
            guard stale || first.start.duration(to: now) >= first.window else { return }
            order.removeFirst()
            if !stale { windows[first.key] = nil }
        }
    }

    /// Removes the key whose window started first; `false` when nothing is left to remove.
    private mutating func evictOldest() -> Bool {
        while let first = order.popFirst() {
            if windows[first.key]?.start == first.start {
                windows[first.key] = nil
                return true
            }
        }
        return false
    }
}
