import GatewayCore
import Synchronization

/// The leader lease in Redis: `SET NX PX` to take it (with a new fencing epoch from `INCR`, in the
/// same script), compare-and-extend to keep it, compare-and-delete to give it up. The term logic
/// (how long this node believes it leads, when the store's epoch is read) is
/// ``LeaseStateMachine``; this runs its actions against Redis and the store, outside its lock.
final class LeaderLease: Sendable {
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
    private let machine: Mutex<LeaseStateMachine<ContinuousClock.Instant>>
    private let clock = ContinuousClock()

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
        self.machine = Mutex(LeaseStateMachine(ttl: ttl))
    }

    /// Reads the store's epoch afresh next time (a term was refused there).
    func forgetFloor() {
        machine.withLock { $0.forgetFloor() }
    }

    /// The current term's epoch while it is valid.
    var epoch: Int64? {
        let now = clock.now
        return machine.withLock { $0.epoch(at: now) }
    }

    /// Takes the lease if it is free, or renews it if held. Returns whether this node leads, and
    /// whether it just became leader.
    func tick() async throws -> (leading: Bool, newTerm: Bool) {
        let started = clock.now
        var action = machine.withLock { $0.startRound(at: started) }
        if action == .readFloor {
            let floor = try? await epochFloor()
            action = machine.withLock { $0.floorRead(floor, at: started) }
        }
        let milliseconds = RESPArgument(ttl.milliseconds)
        switch action {
        case .none, .readFloor:
            return (false, false)
        case .renew(let value):
            let reply: RESPValue
            do {
                reply = try await redis.eval(
                    Self.extendScript,
                    keys: [leaderKey],
                    arguments: [.init(value), milliseconds]
                )
            } catch {
                let now = clock.now
                machine.withLock { $0.renewalFailed(at: now) }
                throw error
            }
            let standing = machine.withLock { $0.renewed(reply.integer == 1, startedAt: started) }
            return (standing.leading, standing.newTerm)
        case .acquire(let floor):
            let now = Timestamp.now().millisecondsSince1970
            let arguments: [RESPArgument] = [
                .init(nodeID), milliseconds, .init(now), .init(floor), .init(Self.epochRetention.milliseconds),
            ]
            let reply = try await redis.eval(Self.acquireScript, keys: [leaderKey, epochKey], arguments: arguments)
            let standing = machine.withLock { $0.acquired(reply.string, startedAt: started) }
            return (standing.leading, standing.newTerm)
        }
    }

    /// Gives the lease up (graceful shutdown), so a successor need not wait for the TTL.
    func release() async {
        guard let value = machine.withLock({ $0.release() }) else { return }
        _ = try? await redis.eval(Self.releaseScript, keys: [leaderKey], arguments: [.init(value)])
    }

    /// The leader as recorded in Redis (whoever it is).
    func currentLeader() async throws -> ClusterView.Leader? {
        let reply = try await redis.send(["GET", .init(leaderKey)])
        guard let value = reply.string, let parsed = Self.parse(value) else { return nil }
        return ClusterView.Leader(id: parsed.id, epoch: parsed.epoch, since: parsed.since)
    }

    /// `<node>|<epoch>|<since>`.
    static func parse(_ value: String) -> (id: String, epoch: Int64, since: Int64)? {
        LeaseStateMachine<ContinuousClock.Instant>.parse(value)
    }
}
