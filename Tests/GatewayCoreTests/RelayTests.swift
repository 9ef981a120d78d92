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

    @Test func replayBufferKeepsTheLastEventsOfEachStream() async {
        let log = InMemorySessionEventLog(capacity: 3, retention: .seconds(60))
        for sequence in 1...4 {
            log.record(
                LoggedEvent(stream: "g", sequence: sequence, data: [UInt8(sequence)], isFinal: false),
                session: "a"
            )
        }
        log.record(LoggedEvent(stream: "c9", sequence: 5, data: [5], isFinal: true), session: "a")
        // Capacity 3: events 1 and 2 are gone; the call stream is kept apart.
        #expect(await log.events(session: "a", stream: "g", after: 0).map(\.sequence) == [3, 4])
        #expect(await log.events(session: "a", stream: "g", after: 3).map(\.sequence) == [4])
        #expect(await log.events(session: "a", stream: "c9", after: 0).map(\.isFinal) == [true])
        #expect(await log.events(session: "b", stream: "g", after: 0).isEmpty)
        log.forget(session: "a")
        #expect(await log.events(session: "a", stream: "g", after: 0).isEmpty)
    }

    @Test func replayBufferForgetsOldEventsAndIdleSessions() async throws {
        let log = InMemorySessionEventLog(capacity: 10, retention: .milliseconds(50), maximumSessions: 10)
        log.record(LoggedEvent(stream: "g", sequence: 1, data: [1], isFinal: false), session: "old")
        try await Task.sleep(for: .milliseconds(80))
        #expect(await log.events(session: "old", stream: "g", after: 0).isEmpty)
        for index in 0..<11 {
            log.record(LoggedEvent(stream: "g", sequence: index, data: [], isFinal: false), session: "s\(index)")
        }
        #expect(log.sessionCount <= 10)
    }

    @Test func eventIDsRoundTripAndForeignOnesAreRefused() {
        let event = LoggedEvent(stream: "c12", sequence: 40, data: [], isFinal: false)
        #expect(event.eventID == "c12-40")
        #expect(LoggedEvent.parse(eventID: "c12-40")! == ("c12", 40))
        #expect(LoggedEvent.parse(eventID: "g-7")! == ("g", 7))
        for foreign in ["", "g", "g-", "x-1", "c-1", "cq-1", "g--1", "not-ours"] {
            #expect(LoggedEvent.parse(eventID: foreign) == nil, "\(foreign)")
        }
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
