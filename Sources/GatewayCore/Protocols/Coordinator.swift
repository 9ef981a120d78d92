/// Cross-node coordination: which sessions ended, catalog change announcements, leadership.
/// The embedded default is in-process; cluster mode backs it with Redis.
public protocol Coordinator: Sendable {
    /// This node's identity in the cluster.
    var nodeID: String { get }
    /// Whether this node currently holds the leader lease.
    func isLeader() async -> Bool
    /// Records that a client session ended, for at least `ttl`.
    func terminateSession(_ sessionKey: String, ttl: Duration) async throws
    /// Whether a client session was ended.
    func isSessionTerminated(_ sessionKey: String) async throws -> Bool
    /// Tells every node (this one included) that the catalog changed.
    func publishCatalogChanged() async throws
    /// Catalog change announcements, for as long as the caller iterates.
    func catalogChanges() -> AsyncStream<Void>
}
