import GatewayAuth
import GatewayCluster
import GatewayCore
import GatewayHTTP
import GatewaySession
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// How nodes coordinate: in process (the embedded default, one node) or through Redis
/// (`REDIS_URL`, cluster mode), with the rate counter that goes with it.
struct Coordination {
    let coordinator: any Coordinator
    let rateCounter: any RateCounter
    /// The replay buffer of client sessions: in memory, or in Redis where every node reads it.
    let eventLog: any SessionEventLog
    /// Session traffic between nodes; `nil` for one node.
    let bus: (any SessionBus)?
    /// What must run beside the server (the Redis coordinator's heartbeat and subscription, the
    /// replay buffer's writer).
    let services: [any Service]
    /// Closes the Redis connections; it must stop after every other service (first in the list).
    var closer: (any Service)? = nil
    /// The Redis command pool in cluster mode (its connections are reported in the metrics).
    var redis: RedisClient? = nil

    static func make(
        _ configuration: GatewayConfiguration,
        identity: NodeIdentity,
        load: @escaping @Sendable () -> Int,
        epochFloor: @escaping @Sendable () async throws -> Int64,
        claimEpoch: @escaping @Sendable (Int64) async throws -> Bool,
        logger: Logger
    ) -> Coordination {
        let retention = Duration.seconds(configuration.replayRetentionSeconds)
        guard let endpoint = configuration.cluster.redis else {
            return Coordination(
                coordinator: InProcessCoordinator(identity: identity),
                rateCounter: InProcessRateCounter(),
                eventLog: InMemorySessionEventLog(limits: configuration.replayLimits),
                bus: nil,
                services: []
            )
        }
        var redisOptions = RedisClient.Options()
        redisOptions.connections = configuration.cluster.redisPoolSize
        let redis = RedisClient(endpoint: endpoint, options: redisOptions, logger: logger)
        var options = RedisCoordinator.Options()
        options.keyPrefix = configuration.cluster.keyPrefix
        options.leaseTTL = .milliseconds(configuration.cluster.leaseTTLMilliseconds)
        options.heartbeatInterval = .milliseconds(configuration.cluster.heartbeatMilliseconds)
        options.nodeTTL = .milliseconds(configuration.cluster.heartbeatMilliseconds * 5)
        options.streamRetention = retention
        let eventLog = RedisSessionEventLog(
            redis: redis,
            keyPrefix: options.keyPrefix,
            limits: configuration.replayLimits,
            logger: logger
        )
        let coordinator = RedisCoordinator(
            identity: identity,
            redis: redis,
            options: options,
            load: load,
            epochFloor: epochFloor,
            claimEpoch: claimEpoch,
            flushLog: { await eventLog.flush() },
            logger: logger
        )
        return Coordination(
            coordinator: coordinator,
            rateCounter: RedisRateCounter(redis: redis, keyPrefix: options.keyPrefix, logger: logger),
            eventLog: eventLog,
            bus: coordinator,
            services: [eventLog, coordinator, ShutdownAnnouncer(coordinator: coordinator)],
            closer: RedisCloser(redis: redis),
            redis: redis
        )
    }
}

/// The node's load as reported in its heartbeat (calls in flight), read from a source set once
/// the session runtime exists.
final class LoadProbe: Sendable {
    private let source = Mutex<(@Sendable () -> Int)?>(nil)

    func observe(_ read: @escaping @Sendable () -> Int) { source.withLock { $0 = read } }

    var value: Int { source.withLock { $0 }?() ?? 0 }
}

/// Closes the Redis connections once everything that uses them has stopped: it is first in the
/// service list (``wireGateway``), so it stops last; a command sent after it is logged as an error.
struct RedisCloser: Service {
    let redis: RedisClient

    func run() async throws {
        try? await gracefulShutdown()
        redis.close()
    }
}

/// At SIGTERM or SIGINT, before the server drains its connections: gives up the leader lease and
/// leaves the node registry, so another node takes over at once instead of after the lease TTL.
struct ShutdownAnnouncer: Service {
    let coordinator: RedisCoordinator

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                await coordinator.stepDown()
                return
            }
        }
        // A service that returns early ends the whole group at once: wait for the shutdown.
        try? await gracefulShutdown()
    }
}

/// Acts on session traffic from other nodes (events for streams held here, answers, cancels).
struct SessionBusListener: Service {
    let engine: SessionEngine
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown { await engine.serveBus(logger: logger) }
    }
}

/// Applies token revocations announced by any node; reloads them all from the store when
/// announcements may have been missed.
struct RevocationListener: Service {
    let coordinator: any Coordinator
    let revocations: TokenRevocations
    let store: any TokenStore
    let logger: Logger

    func run() async throws {
        for await revocation in coordinator.revocations().cancelOnGracefulShutdown() {
            if let revocation {
                revocations.revoke(revocation.tokenID, until: revocation.expiresAt)
                continue
            }
            do {
                revocations.load(try await store.activeRevocations(now: .now()))
            } catch {
                logger.warning("cannot reload token revocations", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension GatewayConfiguration {
    /// The replay buffer's bounds, from the `MCP_REPLAY_*` knobs.
    var replayLimits: ReplayBuffers<ContinuousClock.Instant>.Limits {
        ReplayBuffers.Limits(
            eventsPerSession: replayBufferEvents,
            bytesPerSession: replayBufferBytes,
            totalBytes: replayBufferTotalBytes,
            maximumSessions: 100_000,
            retention: .seconds(replayRetentionSeconds)
        )
    }
}

extension Coordination {
    /// Refuses a Redis older than 7.0 and warns about an `allkeys-*` eviction policy
    /// (``RedisServerCheck``). A Redis that cannot be reached now is not checked: the node starts
    /// degraded, as it would later.
    func checkRedisServer(logger: Logger) async throws {
        guard let redis else { return }
        let text: String
        do {
            guard let reply = try await redis.send(["INFO"]).string else { return }
            text = reply
        } catch {
            logger.warning("cannot check the Redis server at start", metadata: ["error": "\(error)"])
            return
        }
        guard let check = RedisServerCheck(info: text) else { return }
        if let refusal = check.refusal { throw ConfigurationError("REDIS_URL: \(refusal)") }
        if let warning = check.warning {
            logger.warning("Redis may evict live gateway keys", metadata: ["detail": .string(warning)])
        }
    }
}
