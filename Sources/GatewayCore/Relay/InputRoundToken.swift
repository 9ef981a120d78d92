/// What a sealed `requestState` says about the call it resumes: a 2026-07-28 client was answered
/// `input_required` because the upstream asked it something, and its retry brings the answers.
/// Sealed (``RequestStateSealing``) so that only this cluster can read or make one.
public struct InputRoundToken: Sendable, Equatable {
    /// The short id (8 characters) of the node holding the upstream call.
    public var node: String
    /// The call's id on that node.
    public var call: String
    /// Whose call it is: a retry by anyone else is refused.
    public var subject: String
    /// The virtual server the call was made through (`nil` for `/mcp`).
    public var serverID: String?
    /// The method of the call (`tools/call`, `prompts/get`, `resources/read`).
    public var method: String
    /// What the call names (the tool or prompt name, the resource URI).
    public var name: String?
    /// The upstream's own `requestState` when the `input_required` came from a 2026-07-28
    /// upstream and was passed through: the retry goes to the upstream with it, from any node
    /// (``node`` and ``call`` then name nothing).
    public var upstreamState: String?

    public init(
        node: String,
        call: String,
        subject: String,
        serverID: String?,
        method: String,
        name: String?,
        upstreamState: String? = nil
    ) {
        self.node = node
        self.call = call
        self.subject = subject
        self.serverID = serverID
        self.method = method
        self.name = name
        self.upstreamState = upstreamState
    }

    /// A fresh random call id (128 bits, hex).
    public static func newCallID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Seals and opens ``InputRoundToken``s as opaque `requestState` strings.
public protocol RequestStateSealing: Sendable {
    /// The `requestState` for `token`; `nil` when it cannot be sealed.
    func seal(_ token: InputRoundToken) -> String?
    /// The token inside `requestState`, or `nil` when this cluster did not seal it (forged,
    /// altered, or from another gateway).
    func open(_ requestState: String) -> InputRoundToken?
}

/// A 2026-07-28 client's retry (`requestState`, `inputResponses`) of a call that waits for input
/// on another node of the cluster.
public struct InputRoundRetry: Sendable, Equatable {
    /// The call's id on the node holding it.
    public var call: String
    /// The retry's JSON-RPC id (the reply answers it).
    public var requestID: JSONRPCID
    /// The `inputResponses` object, as the client sent it.
    public var answers: [UInt8]?

    public init(call: String, requestID: JSONRPCID, answers: [UInt8]?) {
        self.call = call
        self.requestID = requestID
        self.answers = answers
    }
}

/// What the node holding a call sends back for a retry another node received.
public enum InputRoundEvent: Sendable, Equatable {
    /// A notification of the call (progress, logs) for the retry's stream.
    case message([UInt8])
    /// The reply to the retry (the call's result, or more questions); nothing follows.
    case reply([UInt8], errorCode: Int?)
}
