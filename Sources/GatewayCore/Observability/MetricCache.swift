import Metrics
import Synchronization

/// Metric handles by label values, made once each: a hot path looks its counter or timer up in
/// one dictionary instead of asking the metrics factory (which builds names and label keys)
/// on every event. Label values must come from a bounded set (catalog names, routes, outcomes),
/// never from raw client input.
public final class MetricCache<Key: Hashable & Sendable, Metric: Sendable>: Sendable {
    private let make: @Sendable (Key) -> Metric
    private let made = Mutex<[Key: Metric]>([:])

    public init(_ make: @escaping @Sendable (Key) -> Metric) {
        self.make = make
    }

    /// The handle for `key`, made on first use.
    public subscript(_ key: Key) -> Metric {
        made.withLock { made in
            if let metric = made[key] { return metric }
            let metric = make(key)
            made[key] = metric
            return metric
        }
    }

    /// Forgets every handle whose key fails `keep`, returning the ones dropped (so a gauge for a
    /// deleted upstream can be destroyed rather than left at its last value).
    public func removeAll(where drop: (Key) -> Bool) -> [Metric] {
        made.withLock { made in
            let dropped = made.filter { drop($0.key) }
            for key in dropped.keys { made.removeValue(forKey: key) }
            return Array(dropped.values)
        }
    }
}
