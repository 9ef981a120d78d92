import GatewayCore
import Logging

/// 2026-07-28 clients of upstreams that ask their client on the call's stream (2025-11-25):
/// the question is answered to the client as `input_required` with a sealed `requestState`,
/// the client's retry brings the answers, and the upstream call, still running here, goes on.
extension SessionEngine {
    /// How long a call's reply waits for the client's retry after the call ended.
    static let inputRoundGrace: Duration = .seconds(30)
    /// Most questions one call may put to its client.
    static let maximumInputQuestions = 16

    /// Starts or resumes a forwarded call of a 2026-07-28 client.
    func inputRoundCall(
        _ message: JSONRPCMessage,
        method: String,
        from client: Client,
        context: MCPRequestContext,
        sink: (_ id: JSONRPCID) -> CallSink,
        logger: Logger
    ) -> Outcome {
        let id = message.id ?? .null
        guard message.paramMembers().contains(where: { $0.key == "requestState" }) else {
            let call = startInputRoundCall(message, method: method, from: client, context: context, logger: logger)
            return .running(waitForRound(call, requestID: id, sink: sink(id)))
        }
        let answers = message.paramMembers().first(where: { $0.key == "inputResponses" })
            .map { Array(message.bytes[$0.range]) }
        switch inputRound(resumedBy: message, method: method, context: context, logger: logger) {
        case .failure(let error):
            return .answered(MCPDispatcher.Reply(bytes: error.responseBytes, errorCode: error.code))
        case .success(.here(let call)):
            Self.deliver(answers, to: call)
            return .running(waitForRound(call, requestID: id, sink: sink(id)))
        case .success(.elsewhere(let token)):
            let retry = InputRoundRetry(call: token.call, requestID: id, answers: answers)
            return .running(forward(retry, to: token.node, sink: sink(id)))
        case .success(.upstream(let state)):
            // The upstream keeps its own state: the retry goes to it as a new call, with it.
            guard
                let params = ParamsRewriter.replacing(
                    "requestState",
                    with: ParamsRewriter.jsonString(state),
                    in: message
                ),
                let retry = try? JSONRPCMessage(
                    bytes: JSONRPCMessage.requestBytes(id: id, method: method, params: params)
                )
            else {
                let error = JSONRPCError.invalidParams("cannot read the retry's params", id: id)
                return .answered(MCPDispatcher.Reply(bytes: error.responseBytes, errorCode: error.code))
            }
            let call = startInputRoundCall(retry, method: method, from: client, context: context, logger: logger)
            return .running(waitForRound(call, requestID: id, sink: sink(id)))
        }
    }

    /// Where the call a retry resumes runs.
    enum ResumedCall {
        case here(InputRoundCall)
        /// On another node of the cluster.
        case elsewhere(InputRoundToken)
        /// At a 2026-07-28 upstream, which sent `input_required` itself: nothing waits in the
        /// gateway; the retry goes to the upstream with the upstream's own `requestState`.
        case upstream(state: String)
    }

    /// The client's answers (the `inputResponses` object), to the questions they answer.
    static func deliver(_ answers: [UInt8]?, to call: InputRoundCall) {
        guard let answers, let object = (try? JSONScanner.parse(answers))?.objectValue else { return }
        for (key, value) in object.members { _ = call.answer(key: key, result: value.serializedBytes) }
    }

    /// A retry of a call held by another node: handed to it, and what it sends back relayed.
    /// The holder's call cannot outlast `TOOL_TIMEOUT`; a holder silent longer than that (killed
    /// while the retry waited, or of a build that does not read retries) gets the client an error.
    func forward(_ retry: InputRoundRetry, to node: String, sink: CallSink) -> Task<MCPDispatcher.Reply, Never> {
        let bus = runtime.bus
        let bound = dispatcher.upstreamTimeout + Self.inputRoundGrace
        return Task {
            var reply: MCPDispatcher.Reply?
            if let bus {
                let events = await bus.retry(retry, on: node)
                reply = await withTaskGroup(of: MCPDispatcher.Reply?.self) { group in
                    group.addTask {
                        for await event in events {
                            switch event {
                            case .message(let bytes): _ = sink.send?(bytes)
                            case .reply(let bytes, let code):
                                return MCPDispatcher.Reply(bytes: bytes, errorCode: code.map { .init($0) })
                            }
                        }
                        return nil
                    }
                    group.addTask {
                        try? await Task.sleep(for: bound)
                        return nil
                    }
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first
                }
            }
            let answer = reply ?? Self.callEnded(retry.requestID, because: "the node that held it is gone or silent")
            sink.finish(answer)
            return answer
        }
    }

    /// Serves a retry another node received for a call held here, answering over the bus.
    func serve(_ retry: InputRoundRetry, ticket: PostTicket, bus: any SessionBus) {
        guard let call = runtime.inputRounds.call(retry.call) else {
            let reply = Self.callEnded(retry.requestID, because: "it ended")
            return bus.answerRetry(ticket, .reply(reply.bytes, errorCode: reply.errorCode?.rawValue))
        }
        Self.deliver(retry.answers, to: call)
        let accepted = runtime.inputRounds.serve(ticket) {
            let reply = await call.wait(requestID: retry.requestID) { bytes in
                bus.answerRetry(ticket, .message(bytes))
                return .enqueued
            }
            bus.answerRetry(ticket, .reply(reply.bytes, errorCode: reply.errorCode?.rawValue))
        }
        if !accepted {
            let error = JSONRPCError(
                code: .internalError,
                message: "this node serves too many retries",
                id: retry.requestID
            )
            bus.answerRetry(ticket, .reply(error.responseBytes, errorCode: error.code.rawValue))
        }
    }

    /// The answer to a retry whose call is gone.
    static func callEnded(_ id: JSONRPCID, because reason: String) -> MCPDispatcher.Reply {
        let error = callEndedError(id, because: reason)
        return MCPDispatcher.Reply(bytes: error.responseBytes, errorCode: error.code)
    }

    static func callEndedError(_ id: JSONRPCID?, because reason: String) -> JSONRPCError {
        JSONRPCError(
            code: .invalidParams,
            message: "The call this requestState belongs to has ended (\(reason)); send the request again without it",
            id: id,
            data: ["reason": "call_ended"]
        )
    }

    /// Runs the call as a task of its own, so it outlives the client's request when the upstream
    /// asks the client something; it is given up when the client leaves while waiting.
    func startInputRoundCall(
        _ message: JSONRPCMessage,
        method: String,
        from client: Client,
        context: MCPRequestContext,
        logger: Logger
    ) -> InputRoundCall {
        let token = InputRoundToken(
            node: runtime.nodeID,
            call: InputRoundToken.newCallID(),
            subject: context.principal,
            serverID: context.serverID,
            method: method,
            name: Self.calledName(of: message)
        )
        let rounds = runtime.inputRounds
        let requestStates = requestStates
        let call = InputRoundCall(id: token.call, maximumQuestions: Self.maximumInputQuestions) { call in
            guard rounds.add(call) else { return nil }
            return requestStates?.seal(token)
        }
        var context = context
        var relay = relay(for: client, send: { call.notify($0) }, logger: logger)
        relay.rounds = call
        context.relay = relay
        let dispatcher = dispatcher
        let callContext = context
        call.run(
            Task {
                let answered = await dispatcher.handle(message, context: callContext, logger: logger)
                let reply = Self.passingOn(answered, token: token, requestStates: requestStates)
                // Nobody took the reply yet: it waits for the client's retry, a while.
                if !call.finished(reply), call.askedClient { try? await Task.sleep(for: Self.inputRoundGrace) }
                rounds.remove(token.call)
            }
        )
        return call
    }

    /// The call a retry (`requestState`, `inputResponses`) resumes, if the retry may resume it.
    func inputRound(
        resumedBy message: JSONRPCMessage,
        method: String,
        context: MCPRequestContext,
        logger: Logger
    ) -> Result<ResumedCall, JSONRPCError> {
        let invalid = JSONRPCError(
            code: .invalidParams,
            message: "Invalid or expired requestState",
            id: message.id,
            data: ["reason": "invalid_request_state"]
        )
        guard let sealed = ParamsRewriter.stringMember("requestState", in: message),
            let token = requestStates?.open(sealed)
        else {
            logger.debug("requestState refused: not sealed by this gateway")
            return .failure(invalid)
        }
        guard token.subject == context.principal, token.serverID == context.serverID, token.method == method,
            token.name == Self.calledName(of: message)
        else {
            logger.warning("requestState refused: it belongs to another caller, endpoint or request")
            return .failure(invalid)
        }
        if let state = token.upstreamState { return .success(.upstream(state: state)) }
        guard token.node == runtime.nodeID else { return .success(.elsewhere(token)) }
        guard let call = runtime.inputRounds.call(token.call) else {
            return .failure(Self.callEndedError(message.id, because: "it ended"))
        }
        return .success(.here(call))
    }

    /// The client request `requestID` waits for the call's next answer, relayed through `sink`.
    func waitForRound(_ call: InputRoundCall, requestID: JSONRPCID, sink: CallSink) -> Task<MCPDispatcher.Reply, Never>
    {
        Task {
            let reply = await call.wait(requestID: requestID, send: sink.send)
            sink.finish(reply)
            return reply
        }
    }

    /// A reply that is an upstream's own `input_required` (a 2026-07-28 upstream), passed on to
    /// the client with the upstream's `requestState` sealed inside the gateway's: bound to this
    /// caller and call like the gateway's own, and opened again on the retry at any node.
    static func passingOn(
        _ reply: MCPDispatcher.Reply,
        token: InputRoundToken,
        requestStates: (any RequestStateSealing)?
    ) -> MCPDispatcher.Reply {
        guard reply.errorCode == nil, Self.mentionsInputRequired(reply.bytes),
            let message = try? JSONRPCMessage(bytes: reply.bytes), let result = message.resultBytes.map(Array.init)
        else { return reply }
        let members = JSONRPCMessage.members(of: result, in: 0..<result.count)
        guard let type = members.first(where: { $0.key == "resultType" })?.range,
            ParamsRewriter.string(in: result, at: type) == "input_required",
            let range = members.first(where: { $0.key == "requestState" })?.range,
            let state = ParamsRewriter.string(in: result, at: range)
        else { return reply }
        var passed = token
        passed.upstreamState = state
        guard let sealed = requestStates?.seal(passed),
            let edited = JSONObjectEditing.setting([("requestState", ParamsRewriter.jsonString(sealed))], in: result)
        else {
            let error = JSONRPCError(code: .internalError, message: "cannot seal requestState", id: message.id)
            return MCPDispatcher.Reply(bytes: error.responseBytes, errorCode: error.code)
        }
        return MCPDispatcher.Reply(bytes: JSONRPCMessage.responseBytes(id: message.id ?? .null, result: edited))
    }

    /// Whether `bytes` contain `"input_required"` at all (most replies do not: no parsing then).
    static func mentionsInputRequired(_ bytes: [UInt8]) -> Bool {
        let needle = Array(#""input_required""#.utf8)
        var index = bytes.startIndex
        while let found = bytes[index...].firstIndex(of: needle[0]) {
            guard found + needle.count <= bytes.count else { return false }
            if bytes[found..<(found + needle.count)].elementsEqual(needle) { return true }
            index = found + 1
        }
        return false
    }

    /// What a call names: the tool or prompt name, or the resource URI.
    static func calledName(of message: JSONRPCMessage) -> String? {
        switch message.method {
        case "resources/read": ParamsRewriter.stringMember("uri", in: message)
        default: ParamsRewriter.stringMember("name", in: message)
        }
    }
}
