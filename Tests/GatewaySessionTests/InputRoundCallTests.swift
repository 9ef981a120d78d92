import GatewayCore
import Testing

@testable import GatewaySession

/// `InputRoundCall` carrying out its machine with real continuations: whoever waits gets exactly
/// one answer, whatever is cancelled when.
@Suite struct InputRoundCallTests {
    static let final = Array(#"{"jsonrpc":"2.0","id":1,"result":{"done":true}}"#.utf8)

    static func call() -> InputRoundCall {
        InputRoundCall(id: "c", maximumQuestions: 4) { _ in "sealed" }
    }

    /// Starts a client request waiting on `call`, and returns once it waits.
    static func waiting(on call: InputRoundCall, id: Int) async -> Task<MCPDispatcher.Reply, Never> {
        let request = Task { await call.wait(requestID: JSONRPCID(id), send: nil) }
        while !call.hasWaiter { await Task.yield() }
        return request
    }

    static func text(_ reply: MCPDispatcher.Reply) -> String { String(decoding: reply.bytes, as: UTF8.self) }

    @Test(.timeLimit(.minutes(1))) func aQuestionFromACancelledAskLeavesTheWaitingRequestWaiting() async {
        let call = Self.call()
        let request = await Self.waiting(on: call, id: 1)
        let asking = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await call.ask(method: "sampling/createMessage", params: nil)
        }
        guard case .error = await asking.value else {
            Issue.record("a cancelled ask got an answer")
            return
        }
        #expect(call.hasWaiter, "the request still waits for the call")
        call.finished(MCPDispatcher.Reply(bytes: Self.final))
        #expect(Self.text(await request.value).contains(#""done":true"#))
    }

    @Test(.timeLimit(.minutes(1))) func aCancelledSecondRequestDoesNotGiveUpTheFirst() async {
        let call = Self.call()
        let first = await Self.waiting(on: call, id: 1)
        let second = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await call.wait(requestID: JSONRPCID(2), send: nil)
        }
        #expect((await second.value).errorCode == .invalidRequest, "one request waits at a time")
        call.finished(MCPDispatcher.Reply(bytes: Self.final))
        let reply = await first.value
        #expect(reply.errorCode == nil)
        #expect(Self.text(reply).contains(#""id":1"#))
    }

    @Test(.timeLimit(.minutes(1))) func aRequestCancelledBeforeItWaitsGivesTheCallUp() async {
        let call = Self.call()
        let upstream = Task<Void, Never> { try? await Task.sleep(for: .seconds(3600)) }
        call.run(upstream)
        let request = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await call.wait(requestID: JSONRPCID(1), send: nil)
        }
        #expect((await request.value).errorCode == .requestCancelled)
        await upstream.value
        #expect(upstream.isCancelled, "the upstream call was given up")
    }
}
