import GatewayCore
import Synchronization

/// The leader lease in Redis: `SET NX PX` to take it (with a new fencing epoch from `INCR`, in the
/// same script), compare-and-extend to keep it, compare-and-delete to give it up. This node
/// believes it leads only until the last successful renewal plus the TTL (less a margin for clock
/// drift), so a paused node stops acting as leader before anyone else can take over.
final class LeaderLease: Sendable {
    struct Term: Sendable {
        var value: String
        var epoch: Int64
        var since: Int64
        var validUntil: ContinuousClock.Instant
    }

    static let acquireScript = """
        if redis.call('SET', KEYS[1], 'pending', 'NX', 'PX', ARGV[2]) then
          local epoch = redis.call('INCR', KEYS[2])
          local floor = tonumber(ARGV[4])
          if epoch <= floor then
            epoch = floor + 1
            redis.call('SET', KEYS[2], epoch)
          end
          redis.call('PEXPIRE', KEYS[2], ARGV[5])
          local value = ARGV[1] .. '|' .. epoch .. '|' .. ARGV[3]
          redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
          return value
        end
        return false
        """
    /// How long the epoch counter outlives the last term taken. Every key the gateway writes
    /// expires; this one may, because a new term starts above the store's fencing epoch anyway.
    static let epochRetention: Duration = .seconds(7 * 86400)

    static let extendScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """
    static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """

    let redis: RedisClient
    let nodeID: String
    let leaderKey: String
    let epochKey: String
    let ttl: Duration
    /// The newest epoch the store has seen: a new term starts above it (Redis may have lost its
    /// counter in a restart without persistence).
    let epochFloor: @Sendable () async throws -> Int64
    private let term = Mutex<Term?>(nil)
    private let floor = Mutex<(value: Int64, at: ContinuousClock.Instant)?>(nil)

    init(
        redis: RedisClient,
        nodeID: String,
        keyPrefix: String,
        ttl: Duration,
        epochFloor: @escaping @Sendable () async throws -> Int64
    ) {
        self.redis = redis
        self.nodeID = nodeID
        self.leaderKey = keyPrefix + "leader"
        self.epochKey = keyPrefix + "leader:epoch"
        self.ttl = ttl
        self.epochFloor = epochFloor
    }

    /// The store's epoch, read at most every ten seconds (a new term is claimed in the store
    /// anyway, and refused there if it is not newer).
    private func currentFloor() async -> Int64? {
        let now = ContinuousClock.now
        if let cached = floor.withLock({ $0 }), now - cached.at < .seconds(10) { return cached.value }
        guard let value = try? await epochFloor() else { return nil }
        floor.withLock { $0 = (value, now) }
        return value
    }

    /// Reads the store's epoch afresh next time (a term was refused there).
    func forgetFloor() {
        floor.withLock { $0 = nil }
    }

    /// The current term's epoch while it is valid.
    var epoch: Int64? {
        let now = ContinuousClock.now
        return term.withLock { term in
            guard let current = term, now < current.validUntil else { return nil }
            return current.epoch
        }
    }

    /// Takes the lease if it is free, or renews it if held. Returns whether this node leads, and
    /// whether it just became leader.
    func tick() async throws -> (leading: Bool, newTerm: Bool) {
        let started = ContinuousClock.now
        let margin = ttl / 10
        let milliseconds = RESPArgument(ttl.milliseconds)
        if let held = term.withLock({ $0 }) {
            let reply: RESPValue
            do {
                reply = try await redis.eval(
                    Self.extendScript,
                    keys: [leaderKey],
                    arguments: [.init(held.value), milliseconds]
                )
            } catch {
                // Unknown outcome: keep believing only until the last renewal runs out.
                if ContinuousClock.now >= held.validUntil { term.withLock { $0 = nil } }
                throw error
            }
            if reply.integer == 1 {
                term.withLock { $0?.validUntil = started + ttl - margin }
                return (true, false)
            }
            term.withLock { $0 = nil }
            return (false, false)
        }
        // Without the store's epoch no term is sought: it could not be claimed anyway.
        guard let floor = await currentFloor() else { return (false, false) }
        let now = Timestamp.now().millisecondsSince1970
        let reply = try await redis.eval(
            Self.acquireScript,
            keys: [leaderKey, epochKey],
            arguments: [.init(nodeID), milliseconds, .init(now), .init(floor), .init(Self.epochRetention.milliseconds)]
        )
        guard let value = reply.string, let parsed = Self.parse(value) else { return (false, false) }
        term.withLock {
            $0 = Term(value: value, epoch: parsed.epoch, since: parsed.since, validUntil: started + ttl - margin)
        }
        return (true, true)
    }

    /// Gives the lease up (graceful shutdown), so a successor need not wait for the TTL.
    func release() async {
        guard
            let held = term.withLock({ current -> Term? in
                defer { current = nil }
                return current
            })
        else { return }
        _ = try? await redis.eval(Self.releaseScript, keys: [leaderKey], arguments: [.init(held.value)])
    }

    /// The leader as recorded in Redis (whoever it is).
    func currentLeader() async throws -> ClusterView.Leader? {
        let reply = try await redis.send(["GET", .init(leaderKey)])
        guard let value = reply.string, let parsed = Self.parse(value) else { return nil }
        return ClusterView.Leader(id: parsed.id, epoch: parsed.epoch, since: parsed.since)
    }

    /// `<node>|<epoch>|<since>`.
    static func parse(_ value: String) -> (id: String, epoch: Int64, since: Int64)? {
        let parts = value.split(separator: "|")
        guard parts.count == 3, let epoch = Int64(parts[1]), let since = Int64(parts[2]) else { return nil }
        return (String(parts[0]), epoch, since)
    }
}
