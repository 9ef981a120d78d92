/// Cross-node coordination: which sessions ended, catalog change announcements, token
/// revocations, the node registry and leadership. The embedded default is in-process; cluster
/// mode backs it with Redis.
public protocol Coordinator: Sendable {
    /// This node's identity in the cluster.
    var nodeID: String { get }
    /// Whether this node currently holds the leader lease.
    func isLeader() async -> Bool
    /// The fencing epoch of this node's current leader term, `nil` when it is not the leader.
    /// Every leader-only write carries it, so the store refuses a deposed leader's writes.
    func leaderEpoch() -> Int64?
    /// Records that a client session ended, for at least `ttl`, on every node.
    func terminateSession(_ sessionKey: String, ttl: Duration) async throws
    /// Whether a client session was ended.
    func isSessionTerminated(_ sessionKey: String) async throws -> Bool
    /// Tells every node (this one included) that the catalog changed.
    func publishCatalogChanged() async throws
    /// Catalog change announcements, for as long as the caller iterates. Also yields when
    /// announcements may have been missed (after a reconnect), so the caller reloads in full.
    func catalogChanges() -> AsyncStream<Void>
    /// Asks the leader to re-list an upstream soon (this node heard it announce a list change):
    /// only the leader lists upstreams, so a change heard by N nodes costs one listing, not N.
    func requestSync(gatewayID: String) async throws
    /// Re-listing requests from every node (this one included), for as long as the caller
    /// iterates; the leader acts on them.
    func syncRequests() -> AsyncStream<String>
    /// Tells every node that a token was revoked.
    func publishRevocation(_ revocation: TokenRevocation) async throws
    /// Revocations announced by any node; `nil` when announcements may have been missed, so the
    /// caller reloads them all from the store.
    func revocations() -> AsyncStream<TokenRevocation?>
    /// The live nodes and the current leader.
    func clusterView() async throws -> ClusterView
    /// Why cross-node state is unavailable right now (`/ready` reports it), `nil` when healthy.
    func degradedReason() -> String?
}

/// What `GET /cluster` shows.
public struct ClusterView: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var id: String
        public var address: String
        public var version: String
        /// Milliseconds since 1970.
        public var startedAt: Int64
        public var lastSeen: Int64
        /// Requests in flight on the node when it last reported.
        public var load: Int

        public init(id: String, address: String, version: String, startedAt: Int64, lastSeen: Int64, load: Int) {
            self.id = id
            self.address = address
            self.version = version
            self.startedAt = startedAt
            self.lastSeen = lastSeen
            self.load = load
        }
    }

    public struct Leader: Sendable, Equatable {
        public var id: String
        public var epoch: Int64
        /// When its term began (milliseconds since 1970).
        public var since: Int64

        public init(id: String, epoch: Int64, since: Int64) {
            self.id = id
            self.epoch = epoch
            self.since = since
        }
    }

    public var nodes: [Node]
    public var leader: Leader?

    public init(nodes: [Node], leader: Leader?) {
        self.nodes = nodes
        self.leader = leader
    }
}
