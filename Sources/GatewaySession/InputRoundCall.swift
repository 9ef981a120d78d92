import GatewayCore
import Synchronization

/// A forwarded call of a 2026-07-28 client that its upstream may ask for input: runs
/// ``InputRoundStateMachine``'s actions. The upstream's questions wait here for the client's
/// retry; the client's current request (the original call, or a retry) waits for the next thing
/// to answer: more questions (`input_required`) or the call's reply.
package final class InputRoundCall: Sendable {
    package typealias Reply = MCPDispatcher.Reply

    /// The call's id in ``InputRounds`` and in its `requestState`.
    package let id: String
    private let sealState: @Sendable (InputRoundCall) -> String?

    private struct Waiter {
        /// Which `wait` it is (a cancelled request gives up only its own wait).
        let token: Int
        let requestID: JSONRPCID
        let send: (@Sendable ([UInt8]) -> OutboundQueue.PushResult)?
        let continuation: CheckedContinuation<Reply, Never>
    }

    private struct State {
        var machine: InputRoundStateMachine
        var waiter: Waiter?
        var nextToken = 0
        var questions: [String: CheckedContinuation<UpstreamReply, Never>] = [:]
        var finalCode: JSONRPCError.Code?
        var requestState: String?
        var call: Task<Void, Never>?
    }

    /// What to do, decided under the lock together with the machine's step, done after it.
    private struct Effect {
        var resume: (Waiter, Reply)?
        var cancelCall: Task<Void, Never>?

        static var none: Effect { Effect() }
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - maximumQuestions: most questions the upstream may put to the client in this call.
    ///   - sealState: records the call for retries and seals its `requestState` (once, when the
    ///     first question is shown); `nil` when the call cannot wait for a retry.
    package init(id: String, maximumQuestions: Int, sealState: @escaping @Sendable (InputRoundCall) -> String?) {
        self.id = id
        self.sealState = sealState
        self.state = Mutex(State(machine: InputRoundStateMachine(maximumQuestions: maximumQuestions)))
    }

    /// The task running the upstream call, cancelled when the client gives up.
    package func run(_ call: Task<Void, Never>) {
        state.withLock { $0.call = call }
    }

    /// The upstream asks the client: waits for the client's answer in a later retry. The
    /// question is recorded and shown in one step, so it is never shown without somewhere for
    /// its answer to go, and a waiting request is never left behind.
    package func ask(method: String, params: [UInt8]?) async -> UpstreamReply {
        let asked = Mutex<String?>(nil)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<UpstreamReply, Never>) in
                let (registered, effect) = state.withLock { state -> (Bool, Effect) in
                    guard !Task.isCancelled else { return (false, .none) }
                    let (key, action) = state.machine.ask(method: method, params: params)
                    guard let key else { return (false, .none) }
                    state.questions[key] = continuation
                    asked.withLock { $0 = key }
                    return (true, settle(action, in: &state))
                }
                guard registered else {
                    continuation.resume(returning: Self.failure("the call cannot ask its client this question"))
                    return
                }
                carry(out: effect)
            }
        } onCancel: {
            if let key = asked.withLock({ $0 }) { withdraw(key) }
        }
    }

    /// The upstream stopped waiting for the question `key` (it withdrew it, or the call ended).
    private func withdraw(_ key: String) {
        let continuation = state.withLock { state in
            state.machine.withdraw(key: key)
            return state.questions.removeValue(forKey: key)
        }
        continuation?.resume(returning: Self.failure("the request was cancelled"))
    }

    /// The client's answer to the question `key`; `false` when no such question is open.
    package func answer(key: String, result: [UInt8]) -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<UpstreamReply, Never>? in
            guard state.machine.answered(key: key) else { return nil }
            return state.questions.removeValue(forKey: key)
        }
        continuation?.resume(returning: .result(result))
        return continuation != nil
    }

    /// A notification of the call (progress, logs): to the client request waiting now, if any.
    package func notify(_ bytes: [UInt8]) -> OutboundQueue.PushResult {
        guard let send = state.withLock({ $0.waiter?.send }) else { return .finished }
        return send(bytes)
    }

    /// The client request `requestID` waits for the call's next answer. Its cancellation (the
    /// client closed its stream), even before it began to wait, gives the call up.
    package func wait(
        requestID: JSONRPCID,
        send: (@Sendable ([UInt8]) -> OutboundQueue.PushResult)?
    ) async -> Reply {
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Reply, Never>) in
                let (refused, effect) = state.withLock { state -> (Reply?, Effect) in
                    let action = state.machine.attach()
                    if action == .refuseBusy {
                        let error = JSONRPCError.invalidRequest(
                            "another request is already waiting on this call; send one retry at a time",
                            id: requestID
                        )
                        return (Reply(bytes: error.responseBytes, errorCode: .invalidRequest), .none)
                    }
                    state.waiter = Waiter(token: token, requestID: requestID, send: send, continuation: continuation)
                    var effect = settle(action, in: &state)
                    // Cancelled before it began to wait: it left at once.
                    if Task.isCancelled, effect.resume == nil { effect = leave(token, in: &state) }
                    return (nil, effect)
                }
                if let refused { continuation.resume(returning: refused) }
                carry(out: effect)
            }
        } onCancel: {
            let effect = state.withLock { leave(token, in: &$0) }
            carry(out: effect)
        }
    }

    /// The upstream call ended with `reply`. Returns whether a client request took it; if not,
    /// the reply waits for the retry.
    @discardableResult
    package func finished(_ reply: Reply) -> Bool {
        let effect = state.withLock { state in
            state.finalCode = reply.errorCode
            return settle(state.machine.finished(reply.bytes), in: &state)
        }
        carry(out: effect)
        return effect.resume != nil
    }

    /// Whether the reply was handed to a client request (nothing more can happen).
    package var isDone: Bool { state.withLock { $0.machine.isDone } }

    /// Whether a client request waits now.
    package var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// Whether the client was shown questions (so a retry may come for this call).
    package var askedClient: Bool { state.withLock { $0.requestState != nil } }

    /// The wait `token` ends (its client left): the call is given up if it was waiting.
    private func leave(_ token: Int, in state: inout State) -> Effect {
        guard let waiter = state.waiter, waiter.token == token else { return .none }
        state.waiter = nil
        let cancelled = Reply(
            bytes: JSONRPCError(code: .requestCancelled, message: "Request cancelled", id: waiter.requestID)
                .responseBytes,
            errorCode: .requestCancelled
        )
        let action = state.machine.clientLeft()
        return Effect(resume: (waiter, cancelled), cancelCall: action == .cancelCall ? state.call : nil)
    }

    /// Carries the machine's `action` into what to do, in the same critical section: the waiter
    /// taken with its reply, or the call to cancel.
    private func settle(_ action: InputRoundStateMachine.Action, in state: inout State) -> Effect {
        switch action {
        case .none, .refuseBusy:
            return .none
        case .cancelCall:
            return Effect(cancelCall: state.call)
        case .answerWaiter(let answer):
            guard let waiter = state.waiter else { return .none }
            state.waiter = nil
            let reply = response(to: waiter.requestID, with: answer, in: &state)
            // The reply is out (the call's task, holding it for a retry, may stop waiting), or
            // the call cannot wait for a retry: either way its task is done.
            var done = false
            if case .final = answer { done = true }
            if case .inputRequired = answer, state.requestState == nil { done = true }
            return Effect(resume: (waiter, reply), cancelCall: done ? state.call : nil)
        }
    }

    private func carry(out effect: Effect) {
        if let (waiter, reply) = effect.resume { waiter.continuation.resume(returning: reply) }
        effect.cancelCall?.cancel()
    }

    private func response(
        to requestID: JSONRPCID,
        with answer: InputRoundStateMachine.Answer,
        in state: inout State
    )
        -> Reply
    {
        switch answer {
        case .final(let bytes):
            return Reply(bytes: Self.reIdentified(bytes, as: requestID), errorCode: state.finalCode)
        case .inputRequired(let questions):
            if state.requestState == nil { state.requestState = sealState(self) }
            guard let requestState = state.requestState else {
                let error = JSONRPCError(
                    code: .internalError,
                    message: "too many calls wait for their client's input on this node; try again later",
                    id: requestID
                )
                return Reply(bytes: error.responseBytes, errorCode: .internalError)
            }
            return Reply(
                bytes: JSONRPCMessage.responseBytes(id: requestID, result: Self.inputRequired(questions, requestState))
            )
        }
    }

    /// An `input_required` result asking `questions`.
    static func inputRequired(_ questions: [InputRoundStateMachine.Question], _ requestState: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.raw("{\"resultType\":\"input_required\",\"inputRequests\":{")
        for (index, question) in questions.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.string(question.key)
            writer.raw(":{\"method\":")
            writer.string(question.method)
            if let params = question.params {
                writer.raw(",\"params\":")
                writer.raw(params)
            }
            writer.raw("}")
        }
        writer.raw("},\"requestState\":")
        writer.string(requestState)
        writer.raw("}")
        return writer.bytes
    }

    /// The response `bytes` (to the original request) as the response to `requestID`.
    static func reIdentified(_ bytes: [UInt8], as requestID: JSONRPCID) -> [UInt8] {
        guard let message = try? JSONRPCMessage(bytes: bytes) else { return bytes }
        if let result = message.resultBytes { return JSONRPCMessage.responseBytes(id: requestID, result: result) }
        if let error = message.errorBytes { return JSONRPCMessage.errorResponseBytes(id: requestID, error: error) }
        return bytes
    }

    static func failure(_ message: String) -> UpstreamReply {
        .error(JSONRPCError(code: .internalError, message: message).errorObjectBytes)
    }
}
