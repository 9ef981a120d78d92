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
    /// Hands a message posted for a connection-bound session (legacy SSE `POST /message`) that
    /// this node does not hold to the node holding its connection, and waits briefly for that
    /// node's verdict; ``PostOutcome/notFound`` when no node holds it.
    func post(_ message: PostedMessage) async -> PostOutcome
    /// This node's verdict on a message another node posted to it (``SessionBusMessage/posted(_:ticket:)``).
    func acknowledge(_ ticket: PostTicket, _ outcome: PostOutcome)
    /// Hands a 2026-07-28 client's retry to `node`, which holds its call, and returns what that
    /// node sends back: the call's notifications, then the reply. The stream ends without a reply
    /// when the node is gone; stopping to read it tells the node the client left.
    func retry(_ retry: InputRoundRetry, on node: String) async -> AsyncStream<InputRoundEvent>
    /// What this node sends back for a retry another node handed it
    /// (``SessionBusMessage/retry(_:ticket:)``).
    func answerRetry(_ ticket: PostTicket, _ event: InputRoundEvent)
}

/// A message a client posted for a connection-bound session, with what its HTTP request said.
public struct PostedMessage: Sendable, Codable, Equatable {
    /// The session's key (`session_id`).
    public var session: String
    /// The authenticated subject of the POST; the session must be theirs.
    public var subject: String
    /// The virtual server of the endpoint posted to, or `nil` for `/message`.
    public var serverID: String?
    /// The POST's ``Federation/hopsHeader``.
    public var hops: String?
    /// The caller a peer gateway vouched for on the POST.
    public var onBehalfOf: String?
    /// The JSON-RPC message, as posted (already checked to parse).
    public var message: String

    public init(
        session: String,
        subject: String,
        serverID: String?,
        hops: String?,
        onBehalfOf: String?,
        message: String
    ) {
        self.session = session
        self.subject = subject
        self.serverID = serverID
        self.hops = hops
        self.onBehalfOf = onBehalfOf
        self.message = message
    }
}

/// What the node holding a connection-bound session did with a posted message.
public enum PostOutcome: String, Sendable, Codable {
    /// Handed to the session (its answer goes out on the session's stream).
    case accepted
    /// No such session here, or not the poster's: the POST is answered 404.
    case notFound
    /// The holding node did not answer in time: the POST is answered 503 and may be retried.
    case unavailable
}

/// Names a posted message awaiting its verdict: the posting node's short id and a number.
public struct PostTicket: Sendable, Codable, Hashable {
    public var node: String
    public var number: Int

    public init(node: String, number: Int) {
        self.node = node
        self.number = number
    }
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
    /// A message posted on another node for a connection-bound session held here; answer with
    /// ``SessionBus/acknowledge(_:_:)``.
    case posted(PostedMessage, ticket: PostTicket)
    /// A retry of a call held here, received by another node; answer with
    /// ``SessionBus/answerRetry(_:_:)``.
    case retry(InputRoundRetry, ticket: PostTicket)
    /// The client of that retry left before its reply.
    case retryAbandoned(ticket: PostTicket)
}
