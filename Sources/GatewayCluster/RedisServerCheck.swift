import Logging

/// What the gateway needs of the Redis server, checked once at start from `INFO`: Redis 7.0 or
/// newer (for `PEXPIRE … NX`, without which rate-limit keys would never expire), and an eviction
/// policy that cannot drop the lease or the node registry ahead of their TTL.
///
/// Every key the gateway writes has a TTL, so `noeviction` and the `volatile-*` policies are
/// safe; `allkeys-*` may evict a live lease or registry entry under memory pressure, which the
/// gateway survives (a new term, a new heartbeat) but operators should not choose.
public struct RedisServerCheck: Sendable, Equatable {
    /// The server's version, as numbers (`7.0.15` is `[7, 0, 15]`).
    public var version: [Int]
    /// `maxmemory_policy`, when `INFO` shows it.
    public var evictionPolicy: String?

    /// Reads `INFO`'s `key:value` lines.
    public init?(info: String) {
        var fields: [Substring: Substring] = [:]
        for line in info.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...]
        }
        guard let text = fields["redis_version"] else { return nil }
        version = text.split(separator: ".").map { Int($0) ?? 0 }
        evictionPolicy = fields["maxmemory_policy"].map(String.init)
    }

    /// The oldest Redis the gateway runs on.
    public static let minimumVersion = [7, 0]

    /// Why the gateway must not run on this server, or `nil`.
    public var refusal: String? {
        guard version.lexicographicallyPrecedes(Self.minimumVersion) else { return nil }
        return
            "Redis \(version.map(String.init).joined(separator: ".")) is older than 7.0, which the gateway needs (PEXPIRE NX for rate-limit keys)"
    }

    /// A warning about the eviction policy, or `nil`.
    public var warning: String? {
        guard let evictionPolicy, evictionPolicy.hasPrefix("allkeys-") else { return nil }
        return
            "Redis maxmemory-policy is \(evictionPolicy): under memory pressure it may evict the leader lease or the node registry; use noeviction or a volatile-* policy"
    }
}
