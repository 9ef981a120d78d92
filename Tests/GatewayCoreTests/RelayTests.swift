import Synchronization
import Testing

@testable import GatewayCore

@Suite("Relay building blocks")
struct RelayTests {
    func event(_ text: String) -> StreamEvent { StreamEvent(data: Array(text.utf8)) }

    @Test func queueRefusesBeyondItsCapacityAndDrainsInOrder() async {
        let queue = OutboundQueue(capacity: 2)
        #expect(queue.push(event("a")) == .enqueued)
        #expect(queue.push(event("b")) == .enqueued)
        #expect(queue.push(event("c")) == .full)
        // A keep-alive is pointless while messages wait, and never takes a slot.
        #expect(queue.push(.keepAlive) == .enqueued)
        queue.finish()
        #expect(queue.push(event("d")) == .finished)
        var drained: [String] = []
        while let next = await queue.next() { drained.append(String(decoding: next.data, as: UTF8.self)) }
        #expect(drained == ["a", "b"])
    }

    @Test func queueHandsAnEventToAWaitingReader() async {
        let queue = OutboundQueue(capacity: 1)
        async let next = queue.next()
        try? await Task.sleep(for: .milliseconds(20))
        #expect(queue.push(event("x")) == .enqueued)
        let received = await next
        #expect(received?.data == Array("x".utf8))
    }

    @Test func aCancelledReaderGetsNil() async {
        let queue = OutboundQueue(capacity: 1)
        let reader = Task { await queue.next() }
        reader.cancel()
        let received = await reader.value
        #expect(received == nil)
    }

    @Test func pendingRequestsTakeAnswersOnlyFromTheSessionAsked() async throws {
        let pending = PendingClientRequests(prefix: "gw-test")
        let sent = SentIDs()
        let waiting = Task { await pending.ask(owner: "session-a") { id in sent.add(id) } }
        let id = try await sent.first()
        #expect(id.description.hasPrefix("\"gw-test-"))
        #expect(!pending.resolve(id: id, owner: "session-b", reply: .result(Array("{}".utf8))))
        #expect(pending.resolve(id: id, owner: "session-a", reply: .result(Array("{\"ok\":1}".utf8))))
        guard case .result(let bytes) = await waiting.value else {
            Issue.record("expected the client's result")
            return
        }
        #expect(bytes == Array("{\"ok\":1}".utf8))
        #expect(pending.count == 0)
    }

    @Test func pendingRequestFailsAtOnceWhenItCannotBeSentOrIsCancelled() async throws {
        let pending = PendingClientRequests(prefix: "n")
        guard case .error = await pending.ask(owner: "s", send: { _ in false }) else {
            Issue.record("an undeliverable request must fail")
            return
        }
        let sent = SentIDs()
        let waiting = Task { await pending.ask(owner: "s") { id in sent.add(id) } }
        _ = try await sent.first()
        waiting.cancel()
        guard case .error = await waiting.value else {
            Issue.record("a cancelled request must fail")
            return
        }
        #expect(pending.count == 0)
    }

    @Test func capabilitiesAreReadFromDeclarations() {
        let declared: JSONValue = ["sampling": [:], "elicitation": ["form": [:]], "roots": true]
        let capabilities = ClientCapabilities(declared: declared)
        #expect(capabilities == [.sampling, .elicitation])
        #expect(ClientCapabilities(declared: nil).isEmpty)
        #expect(ClientCapabilities.required(for: "elicitation/create") == .elicitation)
        #expect(ClientCapabilities.required(for: "tools/call") == nil)
    }

    @Test func loggingLevelsAreOrderedBySeverity() {
        #expect(LoggingLevel(name: "warning")! > LoggingLevel(name: "info")!)
        #expect(LoggingLevel(name: "loud") == nil)
        #expect(LoggingLevel.allCases.map(\.name).first == "debug")
    }
}

/// Records ids passed to a send closure, for tests.
final class SentIDs: Sendable {
    private let ids = Mutex<[JSONRPCID]>([])

    func add(_ id: JSONRPCID) -> Bool {
        ids.withLock { $0.append(id) }
        return true
    }

    func first() async throws -> JSONRPCID {
        for _ in 0..<500 {
            if let id = ids.withLock({ $0.first }) { return id }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw CancellationError()
    }
}
