import GatewayCore
import Synchronization

/// Several gateway nodes in one process, without Redis: what ``RedisCoordinator``'s session bus
/// does across processes (who holds which stream, messages to one node or to all), done in
/// memory. Two ``SessionEngine``s joined to one cluster behave as two nodes behind a load
/// balancer, so cross-node delivery, answer routing and takeover are tested in milliseconds.
public final class InMemoryCluster: Sendable {
    private struct State {
        /// Holders by `<session>:<stream>`.
        var holders: [String: String] = [:]
        var nodes: [String: InMemorySessionBus] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A node's bus. `nodeID` names the node in request ids by its first 8 characters, as in a
    /// real cluster; give nodes ids that differ there.
    public func join(nodeID: String) -> InMemorySessionBus {
        let bus = InMemorySessionBus(cluster: self, shortID: String(nodeID.prefix(8)))
        state.withLock { $0.nodes[bus.shortID] = bus }
        return bus
    }

    /// The node with short id `shortID` is gone (killed): nothing reaches it any more.
    public func leave(_ shortID: String) {
        _ = state.withLock { $0.nodes.removeValue(forKey: shortID) }
    }

    /// The node holding a stream, if any.
    public func holder(session: String, stream: String) -> String? {
        state.withLock { $0.holders[session + ":" + stream] }
    }

    func take(session: String, stream: String, by node: String) -> InMemorySessionBus? {
        state.withLock { state in
            let previous = state.holders.updateValue(node, forKey: session + ":" + stream)
            guard let previous, previous != node else { return nil }
            return state.nodes[previous]
        }
    }

    func forget(session: String, stream: String, heldBy node: String) {
        state.withLock { state in
            if state.holders[session + ":" + stream] == node { state.holders[session + ":" + stream] = nil }
        }
    }

    func node(_ shortID: String) -> InMemorySessionBus? { state.withLock { $0.nodes[shortID] } }

    func others(than shortID: String) -> [InMemorySessionBus] {
        state.withLock { $0.nodes.filter { $0.key != shortID }.map(\.value) }
    }
}

/// One node's side of an ``InMemoryCluster``.
public final class InMemorySessionBus: SessionBus {
    let cluster: InMemoryCluster
    let shortID: String
    private let inbox: AsyncStream<SessionBusMessage>
    private let deliver: AsyncStream<SessionBusMessage>.Continuation
    /// Posts waiting for their verdict, as ``RedisCoordinator`` keeps them.
    let verdicts = PostAcknowledgements()

    init(cluster: InMemoryCluster, shortID: String) {
        self.cluster = cluster
        self.shortID = shortID
        (inbox, deliver) = AsyncStream.makeStream(of: SessionBusMessage.self)
    }

    func yield(_ message: SessionBusMessage) { deliver.yield(message) }

    public func attached(session: String, stream: String, serverID: String?) async {
        cluster.take(session: session, stream: stream, by: shortID)?.yield(.released(session: session, stream: stream))
    }

    public func detached(session: String, stream: String) {
        // Like Redis: a dropped stream's record stays (its events are forwarded nowhere useful
        // until it expires), except a connection's, which ends with it.
        if stream == StreamName.connection { cluster.forget(session: session, stream: stream, heldBy: shortID) }
    }

    public func forward(_ event: LoggedEvent, session: String) {
        guard let holder = cluster.holder(session: session, stream: event.stream), holder != shortID else { return }
        cluster.node(holder)?.yield(.event(session: session, event))
    }

    public func forwardAnswer(id: JSONRPCID, owner: String, reply: UpstreamReply) {
        guard let node = ClientRequestID.node(of: id), node != shortID else { return }
        cluster.node(node)?.yield(.answer(id: id, owner: owner, reply: reply))
    }

    public func forwardCancellation(id: JSONRPCID, owner: String) {
        for node in cluster.others(than: shortID) { node.yield(.cancellation(id: id, owner: owner)) }
    }

    public func orphanedGetStreams() async -> [(session: String, serverID: String?)] { [] }

    public func incoming() -> AsyncStream<SessionBusMessage> { inbox }

    public func post(_ message: PostedMessage) async -> PostOutcome {
        guard let holder = cluster.holder(session: message.session, stream: StreamName.connection),
            holder != shortID, let node = cluster.node(holder)
        else { return .notFound }
        guard let (number, verdict) = verdicts.register() else { return .unavailable }
        node.yield(.posted(message, ticket: PostTicket(node: shortID, number: number)))
        var outcome = PostOutcome.unavailable
        for await settled in verdict {
            outcome = settled
            break
        }
        verdicts.settle(number, .unavailable)  // cancelled while waiting: the entry goes with it
        return outcome
    }

    public func acknowledge(_ ticket: PostTicket, _ outcome: PostOutcome) {
        cluster.node(ticket.node)?.verdicts.settle(ticket.number, outcome)
    }

    /// Retries handed to other nodes, as ``RedisCoordinator`` keeps them.
    let retries = RoundRetryStreams()

    public func retry(_ retry: InputRoundRetry, on node: String) async -> AsyncStream<InputRoundEvent> {
        let shortID = shortID
        let holder = cluster.node(node)
        guard
            let (number, events) = retries.open(abandoned: { number in
                holder?.yield(.retryAbandoned(ticket: PostTicket(node: shortID, number: number)))
            })
        else { return AsyncStream { $0.finish() } }
        guard let holder, node != shortID else {
            retries.fail(number)
            return events
        }
        holder.yield(.retry(retry, ticket: PostTicket(node: shortID, number: number)))
        return events
    }

    public func answerRetry(_ ticket: PostTicket, _ event: InputRoundEvent) {
        cluster.node(ticket.node)?.retries.deliver(event, to: ticket.number)
    }

}
