import GatewayCore
import Logging
import Synchronization

/// Session traffic between nodes. Which node holds a stream is recorded under
/// `<prefix>stream:<session>:<stream>` (its short id, expiring with the replay retention and
/// refreshed by every heartbeat while held); messages for one node go to its own channel
/// `<prefix>node:<short id>`; cancellations go to every node (the call's node is not recorded).
/// Messages are ``ClusterMessage``s.
extension RedisCoordinator: SessionBus {
    /// The first 8 characters of the node id: names its channel and prefixes the ids of its
    /// requests to clients (so an answer arriving elsewhere finds its way back).
    public var shortID: String { String(identity.id.prefix(8)) }

    /// The channel of the node whose short id is `short`: what is meant for that node only.
    static func channel(ofNode short: String, prefix: String) -> String { prefix + "node:" + short }

    func channel(ofNode short: String) -> String { Self.channel(ofNode: short, prefix: options.keyPrefix) }

    func streamKey(_ session: String, _ stream: String) -> String {
        options.keyPrefix + "stream:" + session + ":" + stream
    }

    var getStreamsKey: String { options.keyPrefix + "gets" }

    /// Takes a stream over: records this node as its holder (and, for a GET stream, its server),
    /// returning the previous holder.
    static let takeOverScript = """
        local previous = redis.call('GET', KEYS[1])
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        if ARGV[3] ~= '' then
          redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
          redis.call('PEXPIRE', KEYS[2], ARGV[2])
        end
        return previous
        """
    /// Keeps a stream's record alive, only while this node is still its holder; 0 when another
    /// node took it over.
    static let refreshScript = """
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        if ARGV[3] ~= '' then
          redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
          redis.call('PEXPIRE', KEYS[2], ARGV[2])
        end
        return 1
        """

    public func attached(session: String, stream: String, serverID: String?) async {
        let heldStream = HeldStream(session: session, stream: stream, serverID: serverID)
        _ = held.withLock { $0.insert(heldStream) }
        let (keys, arguments) = registration(heldStream, now: Timestamp.now().millisecondsSince1970)
        do {
            let previous = try await redis.eval(Self.takeOverScript, keys: keys, arguments: arguments).string
            if let previous, previous != shortID {
                // The node that held it lets its connection go (no duplicate list changes).
                try await redis.send([
                    "PUBLISH", .init(channel(ofNode: previous)),
                    .init(ClusterMessage.release(session: session, stream: stream).bytes),
                ])
            }
        } catch {
            // The next heartbeat records it; until then other nodes' events for it are only replayable.
            logger.warning("cannot record a stream's node", metadata: ["error": "\(error)"])
        }
    }

    /// The keys and arguments of ``takeOverScript`` and ``refreshScript`` for a stream.
    func registration(_ stream: HeldStream, now: Int64) -> (keys: [String], arguments: [RESPArgument]) {
        let isGet = stream.stream == StreamName.get
        return (
            [streamKey(stream.session, stream.stream), getStreamsKey],
            [
                .init(shortID), .init(options.streamRetention.milliseconds), .init(isGet ? stream.session : ""),
                .init(GetStreamRecord(holder: shortID, seen: now, serverID: stream.serverID).text),
            ]
        )
    }

    public func orphanedGetStreams() async -> [(session: String, serverID: String?)] {
        do {
            let live = Set(try await clusterView().nodes.map { String($0.id.prefix(8)) })
            let now = Timestamp.now().millisecondsSince1970
            return try await getStreamRecords().compactMap { session, record in
                guard let record, !live.contains(record.holder),
                    now - record.seen <= options.streamRetention.milliseconds
                else { return nil }
                return (session, record.serverID)
            }
        } catch {
            logger.warning("cannot list orphaned streams", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Leader clean-up: GET stream records older than the replay retention.
    func removeExpiredGetStreams(now: Int64) async throws {
        let expired: [RESPArgument] = try await getStreamRecords().compactMap { session, record in
            guard let record, now - record.seen <= options.streamRetention.milliseconds else { return .init(session) }
            return nil
        }
        if !expired.isEmpty { try await redis.send(["HDEL", .init(getStreamsKey)] + expired) }
    }

    /// Every GET stream's record (`nil` for one that cannot be read), by session.
    private func getStreamRecords() async throws -> [(session: String, record: GetStreamRecord?)] {
        try await redis.send(["HGETALL", .init(getStreamsKey)]).pairs.compactMap { field, value in
            field.string.map { ($0, value.string.flatMap(GetStreamRecord.init(parsing:))) }
        }
    }

    public func detached(session: String, stream: String) {
        held.withLock { held in
            if let found = held.first(where: { $0.session == session && $0.stream == stream }) { held.remove(found) }
        }
        // A connection-bound session ends with its connection: other nodes answer its POSTs 404 at once.
        guard stream == StreamName.connection else { return }
        outgoing.enqueue([
            "EVAL", .init(Self.forgetScript), .init(Int64(1)), .init(streamKey(session, stream)), .init(shortID),
        ])
    }

    /// Deletes a stream's record if this node is still its holder.
    static let forgetScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 0
        """

    public func forward(_ event: LoggedEvent, session: String) {
        forwarder.enqueue(ForwardedEvent(session: session, event: event))
    }

    /// Sends what other parts queued for Redis (answers, cancellations, verdicts, forgotten
    /// streams), in order, in pipelined batches. Runs until cancelled; what is still queued then
    /// is dropped (the node is stopping).
    func runOutgoing() async {
        for await _ in outgoing.wakeUps {
            while true {
                let batch = outgoing.take()
                if batch.isEmpty { break }
                do { _ = try await redis.pipeline(batch) } catch {
                    logger.debug(
                        "cluster messages not sent",
                        metadata: ["error": "\(error)", "count": "\(batch.count)"]
                    )
                }
            }
        }
    }

    /// Sends queued events to the nodes holding their streams, in order, each only once it is in
    /// the replay log (so an event is either replayed or forwarded to a node that resumed the
    /// stream meanwhile, never neither). Runs until cancelled.
    func runForwarder() async {
        for await _ in forwarder.wakeUps {
            while true {
                let batch = forwarder.take()
                if batch.isEmpty { break }
                await forward(batch)
            }
        }
    }

    private func forward(_ batch: [ForwardedEvent]) async {
        await flushLog()
        let keys = Array(Set(batch.map { streamKey($0.session, $0.event.stream) }))
        guard let replies = try? await redis.pipeline(keys.map { ["GET", .init($0)] }) else { return }
        var holders: [String: String] = [:]
        for (key, reply) in zip(keys, replies) {
            if let holder = reply.string, holder != shortID { holders[key] = holder }
        }
        var commands: [[RESPArgument]] = []
        for item in batch {
            guard let holder = holders[streamKey(item.session, item.event.stream)] else { continue }
            let payload = ClusterMessage.event(session: item.session, item.event).bytes
            commands.append(["PUBLISH", .init(channel(ofNode: holder)), .init(payload)])
        }
        if !commands.isEmpty { _ = try? await redis.pipeline(commands) }
    }

    public func forwardAnswer(id: JSONRPCID, owner: String, reply: UpstreamReply) {
        guard let holder = ClientRequestID.node(of: id), holder != shortID else { return }
        let payload = ClusterMessage.answer(id: id, owner: owner, reply: reply).bytes
        outgoing.enqueue(["PUBLISH", .init(channel(ofNode: holder)), .init(payload)])
    }

    public func forwardCancellation(id: JSONRPCID, owner: String) {
        outgoing.enqueue(["PUBLISH", .init(eventsChannel), .init(ClusterMessage.cancel(id: id, owner: owner).bytes)])
    }

    public func incoming() -> AsyncStream<SessionBusMessage> { sessionMessages.stream() }

    /// Refreshes the records of every stream this node holds (each heartbeat); forgets those
    /// another node took over.
    func refreshHeldStreams() async throws {
        let streams = Array(held.withLock { $0 })
        guard !streams.isEmpty else { return }
        let now = Timestamp.now().millisecondsSince1970
        let commands: [[RESPArgument]] = streams.map { stream in
            let (keys, arguments) = registration(stream, now: now)
            return ["EVAL", .init(Self.refreshScript), .init(Int64(keys.count))] + keys.map { RESPArgument($0) }
                + arguments
        }
        let replies = try await redis.pipeline(commands)
        let lost = zip(streams, replies).filter { $0.1.integer == 0 }.map(\.0)
        if !lost.isEmpty { held.withLock { held in held.subtract(lost) } }
    }
}

/// A stream of a session held by this node.
struct HeldStream: Hashable, Sendable {
    var session: String
    var stream: String
    var serverID: String?
}

/// Which node holds a session's GET stream, when it last said so, and the virtual server the
/// stream is on: `<holder>\t<milliseconds>\t<server id or empty>` in the `gets` hash.
struct GetStreamRecord {
    var holder: String
    var seen: Int64
    var serverID: String?

    init(holder: String, seen: Int64, serverID: String?) {
        self.holder = holder
        self.seen = seen
        self.serverID = serverID
    }

    init?(parsing text: String) {
        let parts = text.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let seen = Int64(parts[1]) else { return nil }
        self.init(holder: String(parts[0]), seen: seen, serverID: parts[2].isEmpty ? nil : String(parts[2]))
    }

    var text: String { "\(holder)\t\(seen)\t\(serverID ?? "")" }
}

/// An event waiting to be forwarded to the node holding its stream.
struct ForwardedEvent: Sendable {
    var session: String
    var event: LoggedEvent
}
