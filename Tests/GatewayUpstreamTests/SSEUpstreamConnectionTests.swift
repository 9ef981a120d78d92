import GatewayCore
import NIOCore
import Testing

@testable import GatewayUpstream

@Suite struct SSEUpstreamConnectionTests {
    func response(_ id: Int) throws -> JSONRPCMessage {
        try JSONRPCMessage(bytes: Array(#"{"jsonrpc":"2.0","id":\#(id),"result":{"ok":true}}"#.utf8))
    }

    @Test func aResponseArrivingBeforeTheWaiterIsKept() async throws {
        let connection = SSEUpstreamConnection()
        let answer = try response(7)
        let message = try await connection.response(to: JSONRPCID(7)) {
            // The upstream answers on the stream before the caller starts waiting.
            connection.deliver(answer)
        }
        #expect(message.id == JSONRPCID(7))
    }

    @Test func aResponseArrivingLaterWakesTheWaiter() async throws {
        let connection = SSEUpstreamConnection()
        let answer = try response(8)
        async let message = connection.response(to: JSONRPCID(8)) {}
        try await Task.sleep(for: .milliseconds(20))
        connection.deliver(answer)
        #expect(try await message.id == JSONRPCID(8))
    }

    @Test func closingFailsWaitersAndLaterCalls() async throws {
        let connection = SSEUpstreamConnection()
        async let waiting = connection.response(to: JSONRPCID(9)) {}
        try await Task.sleep(for: .milliseconds(20))
        connection.close(UpstreamError(.unreachable, "gone"))
        do {
            _ = try await waiting
            Issue.record("a waiter survived close")
        } catch {
            #expect(error is UpstreamError)
        }
        await #expect(throws: UpstreamError.self) { try await connection.response(to: JSONRPCID(10)) {} }
        await #expect(throws: UpstreamError.self) { try await connection.endpoint() }
        await connection.closed()  // returns at once once closed
    }

    @Test func waitingForAnEndpointThatNeverComesEndsAtTheDeadline() async throws {
        let connection = SSEUpstreamConnection()
        let started = ContinuousClock.now
        await #expect(throws: UpstreamError.self) {
            try await withDeadline(.now() + .milliseconds(100)) { try await connection.endpoint() }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        connection.announceEndpoint("http://127.0.0.1:1/messages/")
        #expect(try await connection.endpoint() == "http://127.0.0.1:1/messages/")
    }

    @Test func endpointsMustStayOnTheStreamsOrigin() {
        #expect(
            HTTPUpstreamClient.resolve("/messages/?session_id=1", against: "http://127.0.0.1:9/sse")
                == "http://127.0.0.1:9/messages/?session_id=1"
        )
        #expect(HTTPUpstreamClient.resolve("http://169.254.169.254/x", against: "http://127.0.0.1:9/sse") == nil)
        #expect(HTTPUpstreamClient.resolve("http://127.0.0.1:10/x", against: "http://127.0.0.1:9/sse") == nil)
    }
}
