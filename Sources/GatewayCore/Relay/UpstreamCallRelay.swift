/// Where an upstream's messages go while one forwarded call is in flight: its notifications
/// (progress, logging) and its requests to the client (sampling, elicitation, roots).
///
/// The upstream client calls it; the transport that holds the client's stream implements it.
public protocol UpstreamCallRelay: Sendable {
    /// A notification the upstream sent during the call, as the complete JSON-RPC message. Called
    /// on an I/O thread: implementations must not block.
    func notify(_ message: JSONRPCMessage)

    /// A request the upstream sent during the call. Returns the client's answer (its `result` or
    /// `error`), or an error the gateway produced when the client cannot be asked.
    func ask(method: String, params: [UInt8]?) async -> UpstreamReply

    /// What the client declared it can be asked (sent to 2026-07-28 upstreams as its
    /// `clientCapabilities`).
    var declaredCapabilities: ClientCapabilities { get }

    /// Whether the client takes `input_required` results itself (a 2026-07-28 client): then an
    /// upstream's `input_required` is passed to it; otherwise the gateway asks the client
    /// through ``ask(method:params:)`` and retries upstream with the answers.
    var passesInputRequired: Bool { get }

    /// The least severe log notification the client wants of this call (sent to 2026-07-28
    /// upstreams, whose logs are per request); `nil` for none.
    var requestedLogLevel: LoggingLevel? { get }
}

extension UpstreamCallRelay {
    public var declaredCapabilities: ClientCapabilities { [] }
    public var passesInputRequired: Bool { false }
    public var requestedLogLevel: LoggingLevel? { nil }
}
