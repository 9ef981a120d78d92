import Synchronization

/// Client sessions that were ended, each until its expiry; bounded (the soonest to expire go
/// first when full).
final class EndedSessions: Sendable {
    private let ended = Mutex<[String: ContinuousClock.Instant]>([:])
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func insert(_ key: String, until expiry: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        ended.withLock { ended in
            if ended.count >= capacity {
                // In batches, so a full set costs one pass per tenth of its size, not per insert.
                ended = ended.filter { $0.value > now }
                if ended.count >= capacity {
                    let soonest = ended.sorted { $0.value < $1.value }.prefix(max(1, capacity / 10))
                    for (key, _) in soonest { ended.removeValue(forKey: key) }
                }
            }
            ended[key] = expiry
        }
    }

    func contains(_ key: String) -> Bool {
        let now = ContinuousClock.now
        return ended.withLock { ended in
            guard let expiry = ended[key] else { return false }
            if expiry <= now {
                ended.removeValue(forKey: key)
                return false
            }
            return true
        }
    }
}
