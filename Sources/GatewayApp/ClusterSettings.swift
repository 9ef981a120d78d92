import Foundation
import GatewayCluster
import NIOSSL

/// The cluster knobs of ``GatewayConfiguration`` (environment only). Without `REDIS_URL` the
/// node runs alone with in-process coordination (the embedded default).
///
/// | Variable | Default | Meaning |
/// |---|---|---|
/// | `REDIS_URL` | none | `redis://[[user]:password@]host:port/db`: cluster mode. Needs `JWT_SECRET_KEY` and `AUTH_ENCRYPTION_SECRET` set, the same on every node. `rediss://…` is Redis over TLS, the server always verified (certificate chain and host name, sent as SNI; an IP address is matched against the certificate's IP entries) |
/// | `REDIS_TLS_CA_FILE` | system roots | PEM file of the CA certificates trusted for `rediss://` instead of the system's roots; only with `rediss://`, and a file that cannot be read or holds no certificate stops start-up |
/// | `REDIS_POOL_SIZE` | `4` | pipelined command connections to Redis per node (plus one subscriber connection) |
/// | `REDIS_KEY_PREFIX` | `mcpgw:` | prefix of every key and channel (clusters may share one Redis) |
/// | `NODE_ADDRESS` | `HOST:PORT` | the address the node announces in `GET /cluster` |
/// | `LEADER_LEASE_TTL_MS` | `3000` | leader lease time to live; a dead leader is replaced within it plus one heartbeat |
/// | `CLUSTER_HEARTBEAT_MS` | `1000` | how often a node announces itself and renews or seeks the lease (at most a third of the TTL) |
/// | `HEALTH_CHECK_INTERVAL` | `60` | seconds between the leader's health checks of every upstream (also in embedded mode, where the node always leads) |
/// | `HEALTH_CHECK_TIMEOUT` | `10` | seconds one health check (an MCP `ping`) may take |
/// | `UNHEALTHY_THRESHOLD` | `3` | failed checks in a row before an upstream is marked unreachable |
/// | `RECONCILE_INTERVAL` | `15` | seconds between a node's reloads of token revocations and the catalog from the store, so a lost announcement is served stale for at most this long |
/// | `SHUTDOWN_DRAIN_TIMEOUT` | `30` | seconds calls in flight may take to finish after SIGTERM before they are cancelled |
public struct ClusterSettings: Sendable {
    public var redis: RedisEndpoint?
    public var redisPoolSize = 4
    public var keyPrefix = "mcpgw:"
    public var nodeAddress: String?
    public var leaseTTLMilliseconds = 3000
    public var heartbeatMilliseconds = 1000
    public var healthCheckIntervalSeconds = 60
    public var healthCheckTimeoutSeconds = 10
    public var unhealthyThreshold = 3
    public var drainTimeoutSeconds = 30
    public var reconcileIntervalSeconds = 15

    public init() {}

    init(values: [String: String]) throws(ConfigurationError) {
        if let text = values["REDIS_URL"], !text.isEmpty {
            do { redis = try RedisEndpoint.parse(text) } catch { throw ConfigurationError(error.description) }
        }
        if let path = values["REDIS_TLS_CA_FILE"], !path.isEmpty {
            guard redis?.tls != nil else {
                throw ConfigurationError("REDIS_TLS_CA_FILE is only used with REDIS_URL=rediss://… (Redis over TLS)")
            }
            redis?.tls?.trustedCertificates = try Self.certificates(path, variable: "REDIS_TLS_CA_FILE")
        }
        if let text = values["REDIS_POOL_SIZE"] {
            redisPoolSize = try GatewayConfiguration.integer("REDIS_POOL_SIZE", text, in: 1...64)
        }
        if let text = values["REDIS_KEY_PREFIX"] {
            guard !text.isEmpty, text.utf8.count <= 64, !text.contains(where: \.isWhitespace) else {
                throw ConfigurationError("REDIS_KEY_PREFIX must be 1 to 64 characters without spaces")
            }
            keyPrefix = text
        }
        if let text = values["NODE_ADDRESS"], !text.isEmpty {
            guard text.utf8.count <= 255 else {
                throw ConfigurationError("NODE_ADDRESS must be at most 255 characters")
            }
            nodeAddress = text
        }
        if let text = values["LEADER_LEASE_TTL_MS"] {
            leaseTTLMilliseconds = try GatewayConfiguration.integer("LEADER_LEASE_TTL_MS", text, in: 300...60000)
        }
        if let text = values["CLUSTER_HEARTBEAT_MS"] {
            heartbeatMilliseconds = try GatewayConfiguration.integer("CLUSTER_HEARTBEAT_MS", text, in: 100...20000)
        }
        guard heartbeatMilliseconds * 3 <= leaseTTLMilliseconds else {
            throw ConfigurationError("CLUSTER_HEARTBEAT_MS must be at most a third of LEADER_LEASE_TTL_MS")
        }
        if let text = values["HEALTH_CHECK_INTERVAL"] {
            healthCheckIntervalSeconds = try GatewayConfiguration.integer("HEALTH_CHECK_INTERVAL", text, in: 1...86400)
        }
        if let text = values["HEALTH_CHECK_TIMEOUT"] {
            healthCheckTimeoutSeconds = try GatewayConfiguration.integer("HEALTH_CHECK_TIMEOUT", text, in: 1...300)
        }
        if let text = values["SHUTDOWN_DRAIN_TIMEOUT"] {
            drainTimeoutSeconds = try GatewayConfiguration.integer("SHUTDOWN_DRAIN_TIMEOUT", text, in: 1...3600)
        }
        if let text = values["RECONCILE_INTERVAL"] {
            reconcileIntervalSeconds = try GatewayConfiguration.integer("RECONCILE_INTERVAL", text, in: 1...3600)
        }
        if let text = values["UNHEALTHY_THRESHOLD"] {
            unhealthyThreshold = try GatewayConfiguration.integer("UNHEALTHY_THRESHOLD", text, in: 1...100)
        }
    }

    /// The certificates of a PEM file, or one line naming `variable` saying why it cannot be used.
    static func certificates(_ path: String, variable: String) throws(ConfigurationError) -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigurationError("\(variable) cannot be read: \(path)")
        }
        guard let certificates = try? NIOSSLCertificate.fromPEMFile(path), !certificates.isEmpty else {
            throw ConfigurationError("\(variable) is not a PEM file of certificates: \(path)")
        }
        return certificates
    }
}
