import GatewayCore
import Logging
import ServiceLifecycle
import Synchronization

/// Cluster coordination through Redis: the node registry (a hash of heartbeats), the leader lease
/// with its fencing epoch, and announcements on one pub/sub channel (catalog changes, ended
/// sessions, token revocations). Announcements are also written where a node that missed them can
/// catch up (ended sessions in a sorted set by expiry; the catalog and revocations in the store),
/// and every (re)subscription triggers that catch-up.
///
/// Run it as a service: it heartbeats, holds or seeks the lease, and keeps the subscription.
public final class RedisCoordinator: Coordinator, Service {
    public struct Options: Sendable {
        /// Key and channel prefix (several clusters may share one Redis).
        public var keyPrefix = "mcpgw:"
        /// Lease time to live; a dead leader is replaced within this plus one heartbeat.
        public var leaseTTL: Duration = .seconds(3)
        /// How often the node announces itself and renews or seeks the lease.
        public var heartbeatInterval: Duration = .seconds(1)
        /// A node not heard from for this long is left out of the cluster view.
        public var nodeTTL: Duration = .seconds(5)
        /// Most ended-session records kept in memory.
        public var maximumEndedSessions = 100_000
        /// How long a session's stream stays routed to the node that held it (MCP_REPLAY_RETENTION).
        public var streamRetention: Duration = .seconds(300)

        public init() {}
    }

    public let identity: NodeIdentity
    public var nodeID: String { identity.id }
    let redis: RedisClient
    let options: Options
    let logger: Logger
    let lease: LeaderLease
    let load: @Sendable () -> Int
    let eventsChannel: String
    let subscriber: RedisSubscriber
    private let ended: EndedSessions
    private let catalog = LocalBroadcast<Void>(buffering: .bufferingNewest(1))
    private let revoked = LocalBroadcast<TokenRevocation?>(buffering: .bufferingNewest(4096))
    private let heartbeatFailing = Atomic<Bool>(false)
    private let steppedDown = Atomic<Bool>(false)
    /// Leader-only work to run (with the term's epoch) each heartbeat while this node leads.
    private let leaderHooks = Mutex<[@Sendable (Int64) async -> Void]>([])
    /// Streams of client sessions attached on this node.
    let held = Mutex<Set<HeldStream>>([])
    /// Session traffic from other nodes.
    let sessionMessages = LocalBroadcast<SessionBusMessage>(buffering: .unbounded)

    public init(
        identity: NodeIdentity,
        redis: RedisClient,
        options: Options = Options(),
        load: @escaping @Sendable () -> Int = { 0 },
        epochFloor: @escaping @Sendable () async throws -> Int64,
        logger: Logger
    ) {
        self.identity = identity
        self.redis = redis
        self.options = options
        self.load = load
        self.logger = logger
        self.lease = LeaderLease(
            redis: redis,
            nodeID: identity.id,
            keyPrefix: options.keyPrefix,
            ttl: options.leaseTTL,
            epochFloor: epochFloor
        )
        self.eventsChannel = options.keyPrefix + "events"
        self.ended = EndedSessions(capacity: options.maximumEndedSessions)
        self.subscriber = RedisSubscriber(
            endpoint: redis.endpoint,
            channels: [eventsChannel, options.keyPrefix + "node:" + identity.id.prefix(8)],
            logger: logger
        )
    }

    var nodesKey: String { options.keyPrefix + "nodes" }
    var endedKey: String { options.keyPrefix + "sessions:ended" }

    // MARK: - Coordinator

    public func isLeader() async -> Bool { lease.epoch != nil }

    public func leaderEpoch() -> Int64? { lease.epoch }

    public func terminateSession(_ sessionKey: String, ttl: Duration) async throws {
        let expiry = Timestamp.now().millisecondsSince1970 + ttl.milliseconds
        ended.insert(sessionKey, until: .now + ttl)
        let replies = try await redis.pipeline([
            ["ZADD", .init(endedKey), .init(expiry), .init(sessionKey)],
            ["HDEL", .init(options.keyPrefix + "gets"), .init(sessionKey)],
            ["PUBLISH", .init(eventsChannel), .init("ended\t\(sessionKey)\t\(expiry)")],
        ])
        for reply in replies { try reply.orThrow("ZADD/PUBLISH") }
    }

    public func isSessionTerminated(_ sessionKey: String) async throws -> Bool {
        ended.contains(sessionKey)
    }

    public func publishCatalogChanged() async throws {
        try await redis.send(["PUBLISH", .init(eventsChannel), "catalog"])
    }

    public func catalogChanges() -> AsyncStream<Void> { catalog.stream() }

    public func publishRevocation(_ revocation: TokenRevocation) async throws {
        try await redis.send([
            "PUBLISH", .init(eventsChannel),
            .init("revoked\t\(revocation.tokenID)\t\(revocation.expiresAt.millisecondsSince1970)"),
        ])
    }

    public func revocations() -> AsyncStream<TokenRevocation?> { revoked.stream() }

    public func clusterView() async throws -> ClusterView {
        let reply = try await redis.send(["HGETALL", .init(nodesKey)])
        let now = Timestamp.now().millisecondsSince1970
        var nodes: [ClusterView.Node] = []
        let fields = reply.elements
        var index = 0
        while index + 1 < fields.count {
            defer { index += 2 }
            guard let text = fields[index + 1].string, let node = NodeAnnouncement.decode(text),
                now - node.lastSeen <= options.nodeTTL.milliseconds
            else { continue }
            nodes.append(node)
        }
        nodes.sort { $0.startedAt == $1.startedAt ? $0.id < $1.id : $0.startedAt < $1.startedAt }
        return ClusterView(nodes: nodes, leader: try await lease.currentLeader())
    }

    public func degradedReason() -> String? {
        if !subscriber.isConnected || heartbeatFailing.load(ordering: .relaxed) { return "Redis unavailable" }
        return nil
    }

    /// Adds work the leader runs every heartbeat, given its fencing epoch.
    public func onLeaderHeartbeat(_ work: @escaping @Sendable (Int64) async -> Void) {
        leaderHooks.withLock { $0.append(work) }
    }

    // MARK: - Service

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
        await stepDown()
    }

    /// Gives up the lease and leaves the node registry (at shutdown; idempotent). The node stops
    /// seeking the lease from then on.
    public func stepDown() async {
        guard !steppedDown.exchange(true, ordering: .relaxed) else { return }
        await lease.release()
        _ = try? await redis.send(["HDEL", .init(nodesKey), .init(identity.id)])
        logger.info("left the cluster")
    }

    private func runUntilCancelled() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.subscriber.run(
                    onMessage: { _, payload in await self.received(payload) },
                    onSubscribed: { await self.catchUp() }
                )
            }
            group.addTask { await self.heartbeats() }
        }
    }

    private func heartbeats() async {
        var ticks = 0
        while !Task.isCancelled && !steppedDown.load(ordering: .relaxed) {
            await heartbeat(cleanUp: ticks % 10 == 0)
            ticks += 1
            try? await Task.sleep(for: options.heartbeatInterval)
        }
    }

    private func heartbeat(cleanUp: Bool) async {
        let now = Timestamp.now().millisecondsSince1970
        let announcement = ClusterView.Node(
            id: identity.id,
            address: identity.address,
            version: identity.version,
            startedAt: identity.startedAt,
            lastSeen: now,
            load: load()
        )
        do {
            try await redis.send([
                "HSET", .init(nodesKey), .init(identity.id), .init(NodeAnnouncement.encode(announcement)),
            ])
            try await refreshHeldStreams()
            guard !steppedDown.load(ordering: .relaxed) else { return }
            let (leading, newTerm) = try await lease.tick()
            heartbeatFailing.store(false, ordering: .relaxed)
            if newTerm, let epoch = lease.epoch {
                logger.notice("this node is now the cluster leader", metadata: ["leader.epoch": "\(epoch)"])
            }
            guard leading, let epoch = lease.epoch else { return }
            if cleanUp { try await removeExpired(now: now) }
            for work in leaderHooks.withLock({ $0 }) { await work(epoch) }
        } catch {
            if !heartbeatFailing.exchange(true, ordering: .relaxed) {
                logger.warning("cluster heartbeat failed; leader work paused", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Leader clean-up: nodes not heard from, ended-session records past their expiry.
    private func removeExpired(now: Int64) async throws {
        let reply = try await redis.send(["HGETALL", .init(nodesKey)])
        let fields = reply.elements
        var stale: [RESPArgument] = []
        var index = 0
        while index + 1 < fields.count {
            defer { index += 2 }
            guard let id = fields[index].string else { continue }
            let node = fields[index + 1].string.flatMap(NodeAnnouncement.decode)
            if node.map({ now - $0.lastSeen > options.nodeTTL.milliseconds * 6 }) ?? true { stale.append(.init(id)) }
        }
        if !stale.isEmpty { try await redis.send(["HDEL", .init(nodesKey)] + stale) }
        try await redis.send(["ZREMRANGEBYSCORE", .init(endedKey), "-inf", .init(now)])
        try await removeExpiredGetStreams(now: now)
    }

    // MARK: - Announcements

    private func received(_ payload: [UInt8]) async {
        if receivedSessionMessage(payload) { return }
        let parts = payload.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        switch parts.first {
        case "catalog":
            catalog.yield(())
        case "revoked" where parts.count == 3:
            guard let expiry = Int64(parts[2]) else { return }
            revoked.yield(TokenRevocation(tokenID: parts[1], expiresAt: Timestamp(millisecondsSince1970: expiry)))
        case "ended" where parts.count == 3:
            guard let expiry = Int64(parts[2]) else { return }
            let left = expiry - Timestamp.now().millisecondsSince1970
            if left > 0 { ended.insert(parts[1], until: .now + .milliseconds(left)) }
            sessionMessages.yield(.ended(session: parts[1]))
            held.withLock { held in held = held.filter { $0.session != parts[1] } }
        default:
            return
        }
    }

    /// After (re)subscribing: announcements may have been missed, so reload what they announce.
    private func catchUp() async {
        catalog.yield(())
        revoked.yield(nil)
        let now = Timestamp.now().millisecondsSince1970
        do {
            let reply = try await redis.send([
                "ZRANGEBYSCORE", .init(endedKey), .init(now), "+inf", "WITHSCORES", "LIMIT", "0",
                .init(Int64(options.maximumEndedSessions)),
            ])
            let values = reply.elements
            var index = 0
            while index + 1 < values.count {
                defer { index += 2 }
                guard let key = values[index].string, let expiry = values[index + 1].integer else { continue }
                ended.insert(key, until: .now + .milliseconds(max(0, expiry - now)))
            }
        } catch {
            logger.warning("cannot reload ended sessions", metadata: ["error": "\(error)"])
        }
    }
}

/// A node's heartbeat record, as JSON in the nodes hash.
enum NodeAnnouncement {
    static func encode(_ node: ClusterView.Node) -> String {
        JSONValue.object(
            JSONObject([
                ("id", .string(node.id)), ("address", .string(node.address)), ("version", .string(node.version)),
                ("startedAt", .int(node.startedAt)), ("lastSeen", .int(node.lastSeen)),
                ("load", .int(Int64(node.load))),
            ])
        ).serializedString
    }

    static func decode(_ text: String) -> ClusterView.Node? {
        guard let value = try? JSONScanner.parse(text), let id = value["id"]?.stringValue,
            let address = value["address"]?.stringValue, let version = value["version"]?.stringValue,
            let startedAt = value["startedAt"]?.intValue, let lastSeen = value["lastSeen"]?.intValue
        else { return nil }
        return ClusterView.Node(
            id: id,
            address: address,
            version: version,
            startedAt: startedAt,
            lastSeen: lastSeen,
            load: Int(value["load"]?.intValue ?? 0)
        )
    }
}
