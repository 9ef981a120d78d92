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
    /// Re-listing requests (gateway ids) for the leader.
    private let syncs = LocalBroadcast<String>(buffering: .bufferingNewest(1024))
    private let announceFailing = Atomic<Bool>(false)
    private let leaseFailing = Atomic<Bool>(false)
    /// Heartbeat and lease rounds in progress (``stepDown()`` closes it and waits for them).
    private let rounds = RoundsInProgress()
    /// Records the first epoch of a term in the store; `false` when the store has seen a newer one.
    let claimEpoch: @Sendable (Int64) async throws -> Bool
    /// Leader rounds so far (clean-up runs every tenth).
    private let leaderRounds = Atomic<Int>(0)
    /// Streams of client sessions attached on this node.
    let held = Mutex<Set<HeldStream>>([])
    /// Messages posted to other nodes' connection-bound sessions, awaiting their verdict.
    let postAcks = PostAcknowledgements()
    /// Retries handed to other nodes, waiting for what comes back.
    let retries = RoundRetryStreams()
    /// Session traffic from other nodes.
    let sessionMessages = LocalBroadcast<SessionBusMessage>(buffering: .unbounded)
    /// Events for streams held by other nodes, forwarded in order once they are in the log.
    let forwarder = BatchQueue<ForwardedEvent>(capacity: 100_000)
    /// Commands other parts send to Redis without waiting (answers and cancellations for other
    /// nodes, verdicts on posted messages), sent in order by ``runOutgoing()``.
    let outgoing = BatchQueue<[RESPArgument]>(capacity: 100_000)
    /// Waits until the replay log has written what was recorded (cluster: Redis).
    let flushLog: @Sendable () async -> Void

    public init(
        identity: NodeIdentity,
        redis: RedisClient,
        options: Options = Options(),
        load: @escaping @Sendable () -> Int = { 0 },
        epochFloor: @escaping @Sendable () async throws -> Int64,
        claimEpoch: @escaping @Sendable (Int64) async throws -> Bool,
        flushLog: @escaping @Sendable () async -> Void = {},
        logger: Logger
    ) {
        self.flushLog = flushLog
        self.claimEpoch = claimEpoch
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
            channels: [eventsChannel, Self.channel(ofNode: String(identity.id.prefix(8)), prefix: options.keyPrefix)],
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
            // The set lives as long as its newest member must (older ones are pruned by score);
            // every member gets the same TTL, so the newest one ends last.
            ["PEXPIRE", .init(endedKey), .init(ttl.milliseconds)],
            ["HDEL", .init(options.keyPrefix + "gets"), .init(sessionKey)],
            [
                "PUBLISH", .init(eventsChannel),
                .init(ClusterMessage.ended(session: sessionKey, expiresAt: expiry).bytes),
            ],
        ])
        for reply in replies { try reply.orThrow("ZADD/PUBLISH") }
    }

    public func isSessionTerminated(_ sessionKey: String) async throws -> Bool {
        ended.contains(sessionKey)
    }

    public func publishCatalogChanged() async throws {
        try await redis.send(["PUBLISH", .init(eventsChannel), .init(ClusterMessage.catalogChanged.bytes)])
    }

    public func catalogChanges() -> AsyncStream<Void> { catalog.stream() }

    public func requestSync(gatewayID: String) async throws {
        try await redis.send([
            "PUBLISH", .init(eventsChannel), .init(ClusterMessage.syncRequested(gatewayID: gatewayID).bytes),
        ])
    }

    public func syncRequests() -> AsyncStream<String> { syncs.stream() }

    public func publishRevocation(_ revocation: TokenRevocation) async throws {
        try await redis.send([
            "PUBLISH", .init(eventsChannel),
            .init(
                ClusterMessage.revoked(
                    tokenID: revocation.tokenID,
                    expiresAt: revocation.expiresAt.millisecondsSince1970
                ).bytes
            ),
        ])
    }

    public func revocations() -> AsyncStream<TokenRevocation?> { revoked.stream() }

    public func clusterView() async throws -> ClusterView {
        let reply = try await redis.send(["HGETALL", .init(nodesKey)])
        let now = Timestamp.now().millisecondsSince1970
        var nodes = reply.pairs.compactMap { $0.1.string.flatMap(NodeAnnouncement.decode) }
        nodes.removeAll { now - $0.lastSeen > options.nodeTTL.milliseconds }
        nodes.sort { $0.startedAt == $1.startedAt ? $0.id < $1.id : $0.startedAt < $1.startedAt }
        return ClusterView(nodes: nodes, leader: try await lease.currentLeader())
    }

    public func degradedReason() -> String? {
        if !subscriber.isConnected || announceFailing.load(ordering: .relaxed) || leaseFailing.load(ordering: .relaxed)
        {
            return "Redis unavailable"
        }
        return nil
    }

    // MARK: - Service

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
        await stepDown()
    }

    /// Gives up the lease and leaves the node registry (at shutdown; idempotent). The node stops
    /// seeking the lease from then on; a lease or heartbeat round in flight is waited for first,
    /// so it cannot take the lease or announce the node again afterwards.
    public func stepDown() async {
        guard await rounds.close(waitingAtMost: options.leaseTTL) else { return }
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
            group.addTask { await self.every(self.options.heartbeatInterval) { await self.announce() } }
            group.addTask { await self.every(self.options.heartbeatInterval) { await self.holdLease() } }
            group.addTask { await self.runForwarder() }
            group.addTask { await self.runOutgoing() }
        }
    }

    /// Runs `work` every `interval` until cancelled or stepped down.
    private func every(_ interval: Duration, _ work: () async -> Void) async {
        while !Task.isCancelled, rounds.begin() {
            await work()
            rounds.end()
            try? await Task.sleep(for: interval)
        }
    }

    /// The node's heartbeat in the registry, and the records of the streams it holds.
    private func announce() async {
        let announcement = ClusterView.Node(
            id: identity.id,
            address: identity.address,
            version: identity.version,
            startedAt: identity.startedAt,
            lastSeen: Timestamp.now().millisecondsSince1970,
            load: load()
        )
        do {
            let replies = try await redis.pipeline([
                ["HSET", .init(nodesKey), .init(identity.id), .init(NodeAnnouncement.encode(announcement))],
                // The registry outlives the last node heard from by the node TTL, no longer.
                ["PEXPIRE", .init(nodesKey), .init(options.nodeTTL.milliseconds)],
            ])
            for reply in replies { _ = try reply.orThrow("HSET/PEXPIRE") }
            try await refreshHeldStreams()
            announceFailing.store(false, ordering: .relaxed)
        } catch {
            if !announceFailing.exchange(true, ordering: .relaxed) {
                logger.warning("cluster heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Seeks or renews the lease (on its own schedule, first thing, so nothing delays a
    /// renewal); a new term is claimed in the store before any leader work; then the clean-up.
    private func holdLease() async {
        do {
            let (leading, newTerm) = try await lease.tick()
            leaseFailing.store(false, ordering: .relaxed)
            guard leading, let epoch = lease.epoch else { return }
            if newTerm {
                guard try await claimEpoch(epoch) else {
                    logger.warning(
                        "the store has seen a newer leader term; giving the lease up",
                        metadata: ["leader.epoch": "\(epoch)"]
                    )
                    lease.forgetFloor()
                    await lease.release()
                    return
                }
                logger.notice("this node is now the cluster leader", metadata: ["leader.epoch": "\(epoch)"])
            }
            if leaderRounds.add(1, ordering: .relaxed).newValue % 10 == 1 {
                try? await removeExpired(now: Timestamp.now().millisecondsSince1970)
            }
        } catch let error as RedisError {
            if !leaseFailing.exchange(true, ordering: .relaxed) {
                logger.warning("leader lease unreachable; leader work paused", metadata: ["error": "\(error)"])
            }
        } catch {
            // The store could not record the new term: no leader work without it.
            logger.warning("cannot claim the leader term in the store", metadata: ["error": "\(error)"])
            await lease.release()
        }
    }

    /// Leader clean-up: nodes not heard from, ended-session records past their expiry.
    private func removeExpired(now: Int64) async throws {
        let reply = try await redis.send(["HGETALL", .init(nodesKey)])
        let stale: [RESPArgument] = reply.pairs.compactMap { field, value in
            guard let id = field.string else { return nil }
            let node = value.string.flatMap(NodeAnnouncement.decode)
            return node.map({ now - $0.lastSeen > options.nodeTTL.milliseconds * 6 }) ?? true ? .init(id) : nil
        }
        if !stale.isEmpty { try await redis.send(["HDEL", .init(nodesKey)] + stale) }
        try await redis.send(["ZREMRANGEBYSCORE", .init(endedKey), "-inf", .init(now)])
        try await removeExpiredGetStreams(now: now)
    }

    // MARK: - Announcements

    /// A message on the shared channel or this node's own.
    private func received(_ payload: [UInt8]) async {
        guard let message = ClusterMessage(bytes: payload) else {
            logger.debug("unreadable message from another node", metadata: ["bytes": "\(payload.count)"])
            return
        }
        switch message {
        case .catalogChanged:
            catalog.yield(())
        case .syncRequested(let gatewayID):
            syncs.yield(gatewayID)
        case .revoked(let tokenID, let expiresAt):
            revoked.yield(TokenRevocation(tokenID: tokenID, expiresAt: Timestamp(millisecondsSince1970: expiresAt)))
        case .ended(let session, let expiresAt):
            let left = expiresAt - Timestamp.now().millisecondsSince1970
            if left > 0 { ended.insert(session, until: .now + .milliseconds(left)) }
            sessionMessages.yield(.ended(session: session))
            held.withLock { held in held = held.filter { $0.session != session } }
        case .cancel(let id, let owner):
            sessionMessages.yield(.cancellation(id: id, owner: owner))
        case .event(let session, let event):
            sessionMessages.yield(.event(session: session, event))
        case .answer(let id, let owner, let reply):
            sessionMessages.yield(.answer(id: id, owner: owner, reply: reply))
        case .release(let session, let stream):
            sessionMessages.yield(.released(session: session, stream: stream))
        case .posted(let posted, let ticket, let sentAt):
            // Too old: its poster is about to give up (or did), and a client told to retry must
            // not find its first attempt handled as well.
            guard Timestamp.now().millisecondsSince1970 - sentAt <= Self.postStaleness.milliseconds else {
                return acknowledge(ticket, .unavailable)
            }
            sessionMessages.yield(.posted(posted, ticket: ticket))
        case .verdict(let outcome, let ticket):
            postAcks.settle(ticket.number, outcome)
        case .retry(let retry, let ticket):
            sessionMessages.yield(.retry(retry, ticket: ticket))
        case .round(let event, let ticket):
            retries.deliver(event, to: ticket.number)
        case .retryAbandoned(let ticket):
            sessionMessages.yield(.retryAbandoned(ticket: ticket))
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
            for (member, score) in reply.pairs {
                guard let key = member.string, let expiry = score.integer else { continue }
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
