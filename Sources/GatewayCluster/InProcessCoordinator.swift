import GatewayCore

/// The embedded default's coordinator: one node, always leader (epoch 1), local fan-out.
public final class InProcessCoordinator: Coordinator {
    public let identity: NodeIdentity
    public var nodeID: String { identity.id }

    private let ended: EndedSessions
    private let catalog = LocalBroadcast<Void>(buffering: .bufferingNewest(1))
    private let revoked = LocalBroadcast<TokenRevocation?>(buffering: .bufferingNewest(1024))
    private let syncs = LocalBroadcast<String>(buffering: .bufferingNewest(1024))

    /// - Parameter maximumTerminatedSessions: most ended-session records kept; the soonest to
    ///   expire go first when full.
    public init(identity: NodeIdentity, maximumTerminatedSessions: Int = 100_000) {
        self.identity = identity
        self.ended = EndedSessions(capacity: maximumTerminatedSessions)
    }

    /// A coordinator for a node known only by its id (tests, tools).
    public convenience init(nodeID: String) {
        self.init(identity: NodeIdentity(id: nodeID, address: "", version: ""))
    }

    public func isLeader() async -> Bool { true }

    public func leaderEpoch() -> Int64? { 1 }

    public func terminateSession(_ sessionKey: String, ttl: Duration) async throws {
        ended.insert(sessionKey, until: .now.advanced(by: ttl))
    }

    public func isSessionTerminated(_ sessionKey: String) async throws -> Bool {
        ended.contains(sessionKey)
    }

    public func publishCatalogChanged() async throws { catalog.yield(()) }

    public func catalogChanges() -> AsyncStream<Void> { catalog.stream() }

    public func requestSync(gatewayID: String) async throws { syncs.yield(gatewayID) }

    public func syncRequests() -> AsyncStream<String> { syncs.stream() }

    public func publishRevocation(_ revocation: TokenRevocation) async throws { revoked.yield(revocation) }

    public func revocations() -> AsyncStream<TokenRevocation?> { revoked.stream() }

    public func clusterView() async throws -> ClusterView {
        let now = Timestamp.now().millisecondsSince1970
        return ClusterView(
            nodes: [
                .init(
                    id: identity.id,
                    address: identity.address,
                    version: identity.version,
                    startedAt: identity.startedAt,
                    lastSeen: now,
                    load: 0
                )
            ],
            leader: .init(id: identity.id, epoch: 1, since: identity.startedAt)
        )
    }

    public func degradedReason() -> String? { nil }
}
