import GatewayCore
import Logging
import Synchronization

/// ``RateCounter`` shared by every node: one Redis counter per key and aligned window (`INCR`, and
/// `PEXPIRE` on the window's first hit, pipelined: one round trip). When Redis cannot answer,
/// it counts in process instead, so limits still hold per node rather than not at all.
public final class RedisRateCounter: RateCounter {
    let redis: RedisClient
    let keyPrefix: String
    let fallback: InProcessRateCounter
    let logger: Logger
    private let degraded = Atomic<Bool>(false)

    public init(redis: RedisClient, keyPrefix: String, logger: Logger) {
        self.redis = redis
        self.keyPrefix = keyPrefix + "rl:"
        self.fallback = InProcessRateCounter()
        self.logger = logger
    }

    public func hit(_ key: String, window: Duration) async throws -> (count: Int, resetInMilliseconds: Int64) {
        let windowMilliseconds = max(1, window.milliseconds)
        let now = Timestamp.now().millisecondsSince1970
        let slot = now / windowMilliseconds
        let redisKey = RESPArgument("\(keyPrefix)\(key):\(slot)")
        do {
            let replies = try await redis.pipeline([
                ["INCR", redisKey],
                ["PEXPIRE", redisKey, .init(windowMilliseconds * 2), "NX"],
            ])
            guard let count = replies.first?.integer else {
                throw RedisError(.protocolViolation, "INCR: unexpected reply")
            }
            if degraded.exchange(false, ordering: .relaxed) { logger.notice("rate limits are cluster-wide again") }
            return (Int(count), (slot + 1) * windowMilliseconds - now)
        } catch {
            if !degraded.exchange(true, ordering: .relaxed) {
                logger.warning("Redis unavailable: rate limits count per node", metadata: ["error": "\(error)"])
            }
            return fallback.hit(key, window: window)
        }
    }
}
