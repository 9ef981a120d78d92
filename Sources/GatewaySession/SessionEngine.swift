import GatewayCore
import Logging

/// Handles the MCP messages of client sessions, whatever transport carries them: stateful
/// streamable HTTP (single messages and batches), stateless 2026-07-28 requests, legacy HTTP+SSE,
/// WebSocket and plain JSON-RPC all come here with a decoded message and the client it is from.
/// The engine decides what the gateway answers itself (`initialize` of connection-bound sessions,
/// `logging/setLevel`, resource subscriptions), what the dispatcher answers from the catalog, and
/// which calls are forwarded upstream, where they run, and how they talk back to the client.
/// Transports keep only what is theirs: framing, streams, status codes.
public struct SessionEngine: Sendable {
    /// Answers from the catalog and forwards calls upstream.
    public let dispatcher: MCPDispatcher
    /// The live, per-node side of sessions.
    public let runtime: SessionRuntime
    /// The longest a stateful session lives (SESSION_TTL); its subscriptions end with it.
    public let sessionTTL: Duration
    /// Seals the `requestState` of `input_required` answers to 2026-07-28 clients; without it,
    /// an upstream's request to such a client gets an error.
    public let requestStates: (any RequestStateSealing)?

    public init(
        dispatcher: MCPDispatcher,
        runtime: SessionRuntime,
        sessionTTL: Duration,
        requestStates: (any RequestStateSealing)? = nil
    ) {
        self.dispatcher = dispatcher
        self.runtime = runtime
        self.sessionTTL = sessionTTL
        self.requestStates = requestStates
    }

    /// Who a message is from.
    public enum Client: Sendable {
        /// A stateful streamable HTTP session (its facts travel sealed in its id).
        case sealed(SessionFacts)
        /// A session that lives as long as one connection (legacy HTTP+SSE, WebSocket).
        case connection(ConnectionSession)
        /// A 2026-07-28 request: no session; logs are relayed at or above `logLevel` only, and
        /// the client is asked for input (`input_required`) only as its `capabilities` say.
        case request(logLevel: LoggingLevel?, capabilities: ClientCapabilities = [])
        /// Plain JSON-RPC (`/rpc`): no session, nothing relayed while a call runs.
        case plain

        /// The session's key, if it is one.
        public var key: String? {
            switch self {
            case .sealed(let facts): facts.key
            case .connection(let session): session.key
            case .request, .plain: nil
            }
        }

        /// A 2026-07-28 request: only request-scoped notifications are relayed to it.
        var isRequest: Bool {
            if case .request = self { return true }
            return false
        }

        /// Whether forwarded calls run as tasks of their own that talk back to the client.
        var relaysCalls: Bool {
            if case .plain = self { return false }
            return true
        }

        /// Whom the requests a call puts to its client belong to.
        var owner: String { key ?? "request" }

        /// What the client can be asked; `nil` when it cannot be asked at all.
        var capabilities: ClientCapabilities? {
            switch self {
            case .sealed(let facts): facts.capabilities
            case .connection(let session): session.current.capabilities
            case .request(_, let capabilities): capabilities
            case .plain: nil
            }
        }
    }

    /// What became of a message.
    public enum Outcome: Sendable {
        /// Answered at once.
        case answered(MCPDispatcher.Reply)
        /// A forwarded call is running; its reply is also handed to the call's ``CallSink``.
        case running(Task<MCPDispatcher.Reply, Never>)
        /// A notification, or an answer a request of this session was waiting for.
        case consumed
        /// An answer nobody is waiting for.
        case unexpectedAnswer(JSONRPCError)
    }

    /// Where a forwarded call talks back to its client.
    public struct CallSink: Sendable {
        /// Puts a message of the call (a notification, a request to the client) on its stream;
        /// `nil` when nothing can be relayed.
        public var send: (@Sendable ([UInt8]) -> OutboundQueue.PushResult)?
        /// Receives the call's response.
        public var finish: @Sendable (MCPDispatcher.Reply) -> Void

        public init(
            send: (@Sendable ([UInt8]) -> OutboundQueue.PushResult)?,
            finish: @escaping @Sendable (MCPDispatcher.Reply) -> Void = { _ in }
        ) {
            self.send = send
            self.finish = finish
        }
    }

    /// Handles one message from `client`. `context` says who asks through which endpoint;
    /// `sink` is asked for the call's channel back to the client when the message starts a
    /// forwarded call.
    public func handle(
        _ message: JSONRPCMessage,
        from client: Client,
        context: MCPRequestContext,
        logger: Logger,
        sink: (_ id: JSONRPCID) -> CallSink
    ) async -> Outcome {
        guard message.kind == .request, let method = message.method else {
            guard let owner = client.key, !clientMessage(message, owner: owner) else { return .consumed }
            return .unexpectedAnswer(Self.unexpectedAnswer(message))
        }
        if let local = await answerLocally(message, method: method, from: client) { return .answered(local) }
        // Plain JSON-RPC calls relay nothing and cannot be cancelled: they run inline.
        guard MCPDispatcher.isForwarded(method), client.relaysCalls else {
            return .answered(await dispatcher.handle(message, context: context, logger: logger))
        }
        if client.isRequest, requestStates != nil {
            return inputRoundCall(message, method: method, from: client, context: context, sink: sink, logger: logger)
        }
        let call = startCall(message, from: client, context: context, sink: sink(message.id ?? .null), logger: logger)
        return .running(call)
    }

    /// What the gateway answers itself rather than the dispatcher: the session's own state.
    func answerLocally(_ message: JSONRPCMessage, method: String, from client: Client) async -> MCPDispatcher.Reply? {
        let id = message.id ?? .null
        switch (method, client) {
        case ("initialize", .connection(let session)):
            let version = ProtocolVersions.negotiate(ParamsRewriter.stringMember("protocolVersion", in: message))
            session.initialized(
                protocolVersion: version,
                capabilities: ClientCapabilities(declared: ParamsRewriter.member("capabilities", in: message))
            )
            return Reply(
                JSONRPCMessage.responseBytes(id: id, result: dispatcher.initializeResult(protocolVersion: version))
            )
        case ("initialize", .plain):
            let version = ProtocolVersions.negotiate(ParamsRewriter.stringMember("protocolVersion", in: message))
            return Reply(
                JSONRPCMessage.responseBytes(id: id, result: dispatcher.initializeResult(protocolVersion: version))
            )
        case ("initialize", .sealed):
            // A stateful session is opened by an `initialize` of its own; it cannot ride in a batch.
            return Reply(JSONRPCError.invalidRequest("initialize cannot be batched", id: id).responseBytes)
        case ("logging/setLevel", .sealed(let facts)):
            return Reply(setLogLevel(message, session: facts.key))
        case ("logging/setLevel", .connection(let session)):
            return Reply(setLogLevel(message, session: session.key))
        case ("resources/subscribe", .sealed(let facts)), ("resources/unsubscribe", .sealed(let facts)):
            let reply = await subscription(message, session: facts.key, serverID: facts.serverID)
            // Subscriptions end with the session's TTL, whether or not the client says goodbye.
            runtime.subscriptions.expires(facts.key, at: facts.createdAt + sessionTTL.milliseconds)
            return Reply(reply)
        case ("resources/subscribe", .connection(let session)), ("resources/unsubscribe", .connection(let session)):
            return Reply(await subscription(message, session: session.key, serverID: session.serverID))
        default:
            return nil
        }
    }

    /// Starts a forwarded call. Calls of sessions are registered so that a later
    /// `notifications/cancelled` (on any node) can stop them; a 2026-07-28 call is cancelled by
    /// cancelling its task (its client closed the stream).
    func startCall(
        _ message: JSONRPCMessage,
        from client: Client,
        context: MCPRequestContext,
        sink: CallSink,
        logger: Logger
    ) -> Task<MCPDispatcher.Reply, Never> {
        var context = context
        if let send = sink.send {
            context.relay = relay(for: client, send: send, logger: logger)
        }
        let dispatcher = dispatcher
        let callContext = context
        let run: @Sendable () async -> MCPDispatcher.Reply = {
            let reply = await dispatcher.handle(message, context: callContext, logger: logger)
            sink.finish(reply)
            return reply
        }
        guard let key = client.key else { return Task(operation: run) }
        return runtime.inFlight.start(InFlightCalls.Key(owner: key, id: message.id ?? .null), run)
    }

    /// The relay of a call's in-call traffic to `client`, through `send`.
    func relay(
        for client: Client,
        send: @escaping @Sendable ([UInt8]) -> OutboundQueue.PushResult,
        logger: Logger
    ) -> ClientCallRelay {
        ClientCallRelay(
            send: send,
            capacity: runtime.streamCapacity,
            owner: client.owner,
            capabilities: client.capabilities,
            logFilter: logFilter(of: client),
            requestScopedOnly: client.isRequest,
            pending: runtime.pending,
            logger: logger
        )
    }

    /// Which log notifications of a call reach the client.
    func logFilter(of client: Client) -> ClientCallRelay.LogFilter {
        switch client {
        case .request(let level, _): level.map { .atLeast($0) } ?? .none
        case .plain: .none
        case .sealed, .connection:
            client.key.flatMap { runtime.logLevels.level(for: $0) }.map { .atLeast($0) } ?? .all
        }
    }

    /// The session ended (DELETE, its connection closed, or another node said so): its calls
    /// still running here are cancelled (upstream too), its streams close, its log level and
    /// subscriptions go, and upstreams nobody watches now are released.
    public func end(session key: String) {
        runtime.inFlight.cancelAll(of: key)
        if runtime.connections.remove(key)?.reachable == true {
            runtime.bus?.detached(session: key, stream: StreamName.connection)
        }
        runtime.logLevels.forget(key)
        runtime.streams.forget(session: key)
        endSubscriptions(of: key)
    }
}

private typealias Reply = MCPDispatcher.Reply

extension MCPDispatcher.Reply {
    fileprivate init(_ bytes: [UInt8]) {
        self.init(bytes: bytes)
    }
}
