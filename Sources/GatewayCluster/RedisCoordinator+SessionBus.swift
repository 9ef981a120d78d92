import GatewayCore
import Logging
import Synchronization

/// Session traffic between nodes. Which node holds a stream is recorded under
/// `<prefix>stream:<session>:<stream>` (its short id, expiring with the replay retention and
/// refreshed by every heartbeat while held); messages for one node go to its own channel
/// `<prefix>node:<short id>`; cancellations go to every node (the call's node is not recorded).
///
/// Messages are tab-separated fields with the JSON payload last (JSON may contain tabs).
extension RedisCoordinator: SessionBus {
    /// The first 8 characters of the node id: names its channel and prefixes the ids of its
    /// requests to clients (so an answer arriving elsewhere finds its way back).
    public var shortID: String { String(identity.id.prefix(8)) }

    var nodeChannel: String { options.keyPrefix + "node:" + shortID }

    func streamKey(_ session: String, _ stream: String) -> String {
        options.keyPrefix + "stream:" + session + ":" + stream
    }

    var getStreamsKey: String { options.keyPrefix + "gets" }

    public func attached(session: String, stream: String, serverID: String?) {
        let heldStream = HeldStream(session: session, stream: stream, serverID: serverID)
        _ = held.withLock { $0.insert(heldStream) }
        let commands = registration(heldStream, now: Timestamp.now().millisecondsSince1970)
        Task { [redis] in _ = try? await redis.pipeline(commands) }
    }

    /// Records that this node holds the stream (and, for GET streams, which server it is on).
    func registration(_ stream: HeldStream, now: Int64) -> [[RESPArgument]] {
        var commands: [[RESPArgument]] = [
            [
                "SET", .init(streamKey(stream.session, stream.stream)), .init(shortID), "PX",
                .init(options.streamRetention.milliseconds),
            ]
        ]
        if stream.stream == "g" {
            commands.append([
                "HSET", .init(getStreamsKey), .init(stream.session),
                .init("\(shortID)\t\(now)\t\(stream.serverID ?? "")"),
            ])
        }
        return commands
    }

    public func orphanedGetStreams() async -> [(session: String, serverID: String?)] {
        do {
            let live = Set(try await clusterView().nodes.map { String($0.id.prefix(8)) })
            let fields = try await redis.send(["HGETALL", .init(getStreamsKey)]).elements
            let now = Timestamp.now().millisecondsSince1970
            var orphans: [(String, String?)] = []
            var index = 0
            while index + 1 < fields.count {
                defer { index += 2 }
                guard let session = fields[index].string, let value = fields[index + 1].string else { continue }
                let parts = value.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count == 3, let seen = Int64(parts[1]), !live.contains(String(parts[0])),
                    now - seen <= options.streamRetention.milliseconds
                else { continue }
                orphans.append((session, parts[2].isEmpty ? nil : String(parts[2])))
            }
            return orphans
        } catch {
            logger.warning("cannot list orphaned streams", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Leader clean-up: GET stream records older than the replay retention.
    func removeExpiredGetStreams(now: Int64) async throws {
        let fields = try await redis.send(["HGETALL", .init(getStreamsKey)]).elements
        var expired: [RESPArgument] = []
        var index = 0
        while index + 1 < fields.count {
            defer { index += 2 }
            guard let session = fields[index].string, let value = fields[index + 1].string else { continue }
            let parts = value.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count != 3 || (Int64(parts[1]).map { now - $0 > options.streamRetention.milliseconds } ?? true) {
                expired.append(.init(session))
            }
        }
        if !expired.isEmpty { try await redis.send(["HDEL", .init(getStreamsKey)] + expired) }
    }

    public func detached(session: String, stream: String) {
        held.withLock { held in
            if let found = held.first(where: { $0.session == session && $0.stream == stream }) { held.remove(found) }
        }
    }

    public func forward(_ event: LoggedEvent, session: String) {
        let key = streamKey(session, event.stream)
        let prefix = options.keyPrefix
        let short = shortID
        var payload = Array("event\t\(session)\t\(event.stream)\t\(event.sequence)\t\(event.isFinal ? 1 : 0)\t".utf8)
        payload += event.data
        let message = payload
        Task { [redis] in
            guard let holder = try? await redis.send(["GET", .init(key)]).string, holder != short else { return }
            _ = try? await redis.send(["PUBLISH", .init(prefix + "node:" + holder), .init(message)])
        }
    }

    public func forwardAnswer(id: JSONRPCID, owner: String, reply: UpstreamReply) {
        // Ids of requests to clients are "gw-<short id>-<n>" (PendingClientRequests).
        let text = String(decoding: id.raw, as: UTF8.self)
        guard text.hasPrefix("\"gw-"), text.count > 13 else { return }
        let holder = String(text.dropFirst(4).prefix(8))
        guard holder != shortID else { return }
        var payload = Array("answer\t\(owner)\t".utf8) + id.raw
        switch reply {
        case .result(let bytes): payload += Array("\tr\t".utf8) + bytes
        case .error(let bytes): payload += Array("\te\t".utf8) + bytes
        }
        let channel = options.keyPrefix + "node:" + holder
        let message = payload
        Task { [redis] in _ = try? await redis.send(["PUBLISH", .init(channel), .init(message)]) }
    }

    public func forwardCancellation(id: JSONRPCID, owner: String) {
        let message = Array("cancel\t\(owner)\t".utf8) + id.raw
        let channel = eventsChannel
        Task { [redis] in _ = try? await redis.send(["PUBLISH", .init(channel), .init(message)]) }
    }

    public func incoming() -> AsyncStream<SessionBusMessage> { sessionMessages.stream() }

    /// Refreshes the expiry of every stream this node holds (each heartbeat).
    func refreshHeldStreams() async throws {
        let streams = held.withLock { $0 }
        guard !streams.isEmpty else { return }
        let now = Timestamp.now().millisecondsSince1970
        _ = try await redis.pipeline(streams.flatMap { registration($0, now: now) })
    }

    /// A message on this node's channel or the shared one, about a session.
    func receivedSessionMessage(_ payload: [UInt8]) -> Bool {
        let fields = payload.split(separator: UInt8(ascii: "\t"), maxSplits: 5, omittingEmptySubsequences: false)
        func text(_ index: Int) -> String { String(decoding: fields[index], as: UTF8.self) }
        switch fields.first.map({ String(decoding: $0, as: UTF8.self) }) {
        case "event" where fields.count == 6:
            guard let sequence = Int(text(3)) else { return true }
            let event = LoggedEvent(
                stream: text(2),
                sequence: sequence,
                data: Array(fields[5]),
                isFinal: text(4) == "1"
            )
            sessionMessages.yield(.event(session: text(1), event))
        case "answer" where fields.count >= 5:
            let rest = fields.count == 6 ? Array(fields[4]) + [UInt8(ascii: "\t")] + Array(fields[5]) : Array(fields[4])
            let id = JSONRPCID(raw: Array(fields[2]))
            let reply: UpstreamReply = text(3) == "e" ? .error(rest) : .result(rest)
            sessionMessages.yield(.answer(id: id, owner: text(1), reply: reply))
        case "cancel" where fields.count == 3:
            sessionMessages.yield(.cancellation(id: JSONRPCID(raw: Array(fields[2])), owner: text(1)))
        default:
            return false
        }
        return true
    }
}

/// A stream of a session held by this node.
struct HeldStream: Hashable, Sendable {
    var session: String
    var stream: String
    var serverID: String?
}
