/// One forwarded call of a 2026-07-28 client whose upstream asks the client for input (sampling,
/// elicitation, roots) the way 2025-11-25 does, with requests on the call's stream. The client
/// cannot be asked on a stream, so its HTTP request is answered `input_required` with the
/// questions, and its retry brings the answers; meanwhile the upstream call goes on.
///
/// This machine keeps only the facts: which questions are open and which the client was shown,
/// whether a client request is waiting for the next answer, and the call's final reply. The
/// owner (``InputRoundCall``) keeps the continuations and runs the actions. It reads no clock:
/// the call itself is bounded by the upstream deadline (TOOL_TIMEOUT).
package struct InputRoundStateMachine: Sendable {
    /// A question the upstream put to the client.
    package struct Question: Sendable, Equatable {
        package var key: String
        package var method: String
        package var params: [UInt8]?
    }

    /// What the waiting client request is answered with.
    package enum Answer: Sendable, Equatable {
        /// The questions still open: answer `input_required`.
        case inputRequired([Question])
        /// The call's reply (a JSON-RPC response for the original request).
        case final([UInt8])
    }

    /// What the owner does after an event.
    package enum Action: Sendable, Equatable {
        case none
        /// Answer the waiting client request.
        case answerWaiter(Answer)
        /// Refuse the request that tried to wait: another request of the call is waiting.
        case refuseBusy
        /// The client left while waiting: cancel the upstream call.
        case cancelCall
    }

    private(set) var open: [Question] = []
    private(set) var waiting = false
    private(set) var final: [UInt8]?
    private(set) var rounds = 0
    private var nextKey = 0
    /// Most questions one call may put to its client.
    package let maximumQuestions: Int

    package init(maximumQuestions: Int) {
        self.maximumQuestions = maximumQuestions
    }

    /// Whether the call ended and its reply was handed out (nothing more can happen).
    package var isDone: Bool { final != nil && !waiting && delivered }
    private var delivered = false

    /// The upstream asks the client something. Returns the question's key (`nil` when the call
    /// has asked too many questions) and what to do.
    package mutating func ask(method: String, params: [UInt8]?) -> (key: String?, action: Action) {
        guard rounds + open.count < maximumQuestions, final == nil else { return (nil, .none) }
        nextKey += 1
        let question = Question(key: "q\(nextKey)", method: method, params: params)
        open.append(question)
        return (question.key, takeWaiterForQuestions())
    }

    /// The upstream withdrew a question (or stopped waiting for it).
    package mutating func withdraw(key: String) {
        open.removeAll { $0.key == key }
    }

    /// Whether the question `key` waits for an answer.
    package func isOpen(_ key: String) -> Bool { open.contains { $0.key == key } }

    /// The client answered the question `key`; `false` when no such question is open.
    package mutating func answered(key: String) -> Bool {
        guard let index = open.firstIndex(where: { $0.key == key }) else { return false }
        open.remove(at: index)
        rounds += 1
        return true
    }

    /// A client request (the original call, or a retry with answers) waits for what comes next.
    package mutating func attach() -> Action {
        guard !waiting else { return .refuseBusy }
        waiting = true
        if let final {
            return finish(with: final)
        }
        return takeWaiterForQuestions()
    }

    /// The upstream call ended with `reply`.
    package mutating func finished(_ reply: [UInt8]) -> Action {
        guard final == nil else { return .none }
        final = reply
        open = []
        guard waiting else { return .none }
        return finish(with: reply)
    }

    /// The waiting client request went away (its stream closed). A client that leaves while it
    /// waits gives up the call; between rounds the call waits for the retry.
    package mutating func clientLeft() -> Action {
        guard waiting else { return .none }
        waiting = false
        return final == nil ? .cancelCall : .none
    }

    private mutating func takeWaiterForQuestions() -> Action {
        guard waiting, !open.isEmpty else { return .none }
        waiting = false
        return .answerWaiter(.inputRequired(open))
    }

    private mutating func finish(with reply: [UInt8]) -> Action {
        waiting = false
        delivered = true
        return .answerWaiter(.final(reply))
    }
}
