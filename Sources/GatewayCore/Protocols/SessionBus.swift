/// Carries session traffic between the nodes of a cluster, so any node can serve any request of
/// any session: events for a stream held by another node, a client's answer to a request another
/// node sent, a cancellation of a call running elsewhere, the end of a session. The embedded
/// default has none (every stream and call is local).
public protocol SessionBus: Sendable {
    /// This node now holds `stream` of `session` (a GET stream, or a call stream resumed here):
    /// events other nodes produce for it are sent here, and the node that held it before lets
    /// its connection go. Returns once that is recorded (so a replay read afterwards misses
    /// nothing that is forwarded).
    func attached(session: String, stream: String, serverID: String?) async
    /// This node no longer holds `stream` of `session` (the client went away).
    func detached(session: String, stream: String)
    /// An event for a stream this node does not hold, already recorded in the shared replay
    /// buffer: handed to the node that holds it, if any.
    func forward(_ event: LoggedEvent, session: String)
    /// A client's answer to a request this node did not send: to the node that did.
    func forwardAnswer(id: JSONRPCID, owner: String, reply: UpstreamReply)
    /// A cancellation of a call not running here: to the node running it.
    func forwardCancellation(id: JSONRPCID, owner: String)
    /// GET streams (session and virtual server) whose node is gone while their client may still
    /// come back: the leader records what they miss (list changes), for replay on any node.
    func orphanedGetStreams() async -> [(session: String, serverID: String?)]
    /// What other nodes sent to this one, for as long as the caller iterates (one consumer).
    func incoming() -> AsyncStream<SessionBusMessage>
}

/// A message from another node about a session.
public enum SessionBusMessage: Sendable {
    /// Push this event to the stream if it is attached here.
    case event(session: String, LoggedEvent)
    /// Resolve the pending client request `id` of `owner`.
    case answer(id: JSONRPCID, owner: String, reply: UpstreamReply)
    /// Cancel the call `id` of `owner` if it runs here.
    case cancellation(id: JSONRPCID, owner: String)
    /// The session ended (DELETE on some node): close its streams here.
    case ended(session: String)
    /// Another node took over this stream of the session: let this node's connection to it go.
    case released(session: String, stream: String)
}
