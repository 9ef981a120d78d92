import GatewayCore
import GatewayTesting
import Logging
import Testing

@testable import GatewaySession

/// `requestState` in the clear (fields joined by `|`): these tests are about where a retry goes,
/// not about sealing (the real sealer is AES-GCM; forged states are refused in the integration
/// tests).
struct ReadableRequestStates: RequestStateSealing {
    func seal(_ token: InputRoundToken) -> String? {
        [token.node, token.call, token.subject, token.serverID ?? "", token.method, token.name ?? ""]
            .joined(separator: "|")
    }

    func open(_ requestState: String) -> InputRoundToken? {
        let parts = requestState.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6 else { return nil }
        return InputRoundToken(
            node: parts[0],
            call: parts[1],
            subject: parts[2],
            serverID: parts[3].isEmpty ? nil : parts[3],
            method: parts[4],
            name: parts[5].isEmpty ? nil : parts[5]
        )
    }
}

/// 2026-07-28 calls whose upstream asks the client (`input_required`), on two nodes: the retry
/// resumes the call wherever it lands, and only for the caller.
@Suite struct InputRoundTests {
    static let logger = Logger(label: "input-round-tests")
    static let client = SessionEngine.Client.request(logLevel: nil, capabilities: .sampling)

    static func context(_ principal: String = "alice") -> MCPRequestContext {
        MCPRequestContext(protocolVersion: ProtocolVersions.stateless, serverID: nil, principal: principal)
    }

    /// Sends `text` to `node` as a 2026-07-28 request and returns the reply.
    static func send(
        _ text: String,
        to node: TwoNodeTests.Node,
        as principal: String = "alice"
    ) async throws -> JSONValue {
        let message = try TwoNodeTests.message(text)
        let outcome = await node.engine.handle(message, from: client, context: context(principal), logger: logger) {
            _ in SessionEngine.CallSink(send: nil)
        }
        let reply: MCPDispatcher.Reply
        switch outcome {
        case .answered(let answered): reply = answered
        case .running(let call): reply = await call.value
        default: throw Unexpected()
        }
        return try JSONScanner.parse(reply.bytes)
    }

    struct Unexpected: Error {}

    static let call = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a-ask"}}"#

    static func retry(id: Int, state: String, answer: String = #""sampled""#) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"a-ask","#
            + #""inputResponses":{"q1":\#(answer)},"requestState":"\#(state)"}}"#
    }

    /// Starts the asking call on `node` and returns its `requestState`.
    static func askingCall(on node: TwoNodeTests.Node) async throws -> String {
        let first = try await send(call, to: node)
        let result = try #require(first["result"])
        #expect(result["resultType"]?.stringValue == "input_required")
        #expect(result["inputRequests"]?["q1"]?["method"]?.stringValue == "sampling/createMessage")
        return try #require(result["requestState"]?.stringValue)
    }

    @Test func aRetryOnTheOtherNodeResumesTheCallWhereItRuns() async throws {
        let (a, b, _) = TwoNodeTests.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let state = try await Self.askingCall(on: a)
        let reply = try await Self.send(Self.retry(id: 2, state: state), to: b)
        #expect(reply["id"]?.intValue == 2)
        #expect(reply["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue == "sampled")
        // Done: the same state resumes nothing now, on either node.
        let again = try await Self.send(Self.retry(id: 3, state: state), to: a)
        #expect(again["error"]?["data"]?["reason"]?.stringValue == "call_ended")
        #expect(a.runtime.inputRounds.count == 0)
    }

    @Test func aRetryForANodeThatIsGoneFailsClearly() async throws {
        let (a, b, cluster) = TwoNodeTests.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let state = try await Self.askingCall(on: a)
        cluster.leave("nodeAAAA")
        let reply = try await Self.send(Self.retry(id: 2, state: state), to: b)
        #expect(reply["error"]?["code"]?.intValue == -32602)
        #expect(reply["error"]?["data"]?["reason"]?.stringValue == "call_ended")
    }

    @Test func anotherCallerCannotResumeTheCall() async throws {
        let (a, b, _) = TwoNodeTests.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let state = try await Self.askingCall(on: a)
        for node in [a, b] {
            let stolen = try await Self.send(Self.retry(id: 2, state: state), to: node, as: "mallory")
            #expect(stolen["error"]?["data"]?["reason"]?.stringValue == "invalid_request_state")
        }
        let reply = try await Self.send(Self.retry(id: 3, state: state), to: b)
        #expect(reply["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue == "sampled")
    }
}
