import GatewayCore

/// What clients send that is not a request: answers to requests the gateway relayed to them, and
/// cancellations; and the one request that changes only the session, `logging/setLevel`.
extension SessionEngine {
    /// A response or notification a client sent in a session (`owner`): answers to requests
    /// the gateway relayed, and cancellations; other notifications need no action. `false` for
    /// an answer nobody is waiting for.
    func clientMessage(_ message: JSONRPCMessage, owner: String) -> Bool {
        switch message.kind {
        case .response, .errorResponse:
            let reply: UpstreamReply =
                message.kind == .response
                ? .result(Array(message.resultBytes ?? []))
                : .error(Array(message.errorBytes ?? []))
            guard let id = message.id else { return false }
            if runtime.pending.resolve(id: id, owner: owner, reply: reply) { return true }
            // Asked by another node of the cluster: its id names that node.
            guard let bus = runtime.bus, ClientRequestID.node(of: id) != nil else { return false }
            bus.forwardAnswer(id: id, owner: owner, reply: reply)
            return true
        case .notification where message.method == "notifications/cancelled":
            if let range = message.paramMembers().first(where: { $0.key == "requestId" })?.range {
                let id = JSONRPCID(raw: Array(message.bytes[range]))
                if !runtime.inFlight.cancel(InFlightCalls.Key(owner: owner, id: id)) {
                    // Perhaps running on another node of the cluster.
                    runtime.bus?.forwardCancellation(id: id, owner: owner)
                }
            }
            return true
        default:
            return true
        }
    }

    static func unexpectedAnswer(_ message: JSONRPCMessage) -> JSONRPCError {
        JSONRPCError.invalidRequest(
            "no request with id \(message.id?.description ?? "null") is waiting for this session's answer"
        )
    }

    /// `logging/setLevel`: remembered for the session; later log notifications below the level are
    /// not relayed to it. Returns the response.
    func setLogLevel(_ message: JSONRPCMessage, session: String) -> [UInt8] {
        guard let name = ParamsRewriter.stringMember("level", in: message), let level = LoggingLevel(name: name) else {
            let names = LoggingLevel.allCases.map(\.name).joined(separator: ", ")
            return JSONRPCError.invalidParams("\"level\" must be one of \(names)", id: message.id).responseBytes
        }
        runtime.logLevels.set(level, for: session)
        return JSONRPCMessage.responseBytes(id: message.id ?? .null, result: Array("{}".utf8))
    }
}
