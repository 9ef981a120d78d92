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

    @Test func responsesGoPastTheCapacityButNotPastTheHardBounds() async {
        let overflows = Counter()
        let queue = OutboundQueue(capacity: 2, maximumBytes: 1000) { overflows.increment() }
        let answer = StreamEvent(data: Array("answer".utf8), isEssential: true)
        for _ in 0..<4 { #expect(queue.push(answer) == .enqueued) }
        #expect(queue.push(event("note")) == .full, "notifications stop at the capacity")
        #expect(!queue.isOverflowed && overflows.value == 0)
        // The fifth answer finds twice the capacity waiting: the client is not reading.
        #expect(queue.push(answer) == .full)
        #expect(queue.isOverflowed && queue.isFinished && overflows.value == 1)
        #expect(await queue.next() == nil, "what waited is dropped")
        #expect(queue.push(answer) == .finished && overflows.value == 1)
        // Bytes bound it too; one large answer alone is never an overflow.
        let bytes = OutboundQueue(capacity: 100, maximumBytes: 10) {}
        #expect(bytes.push(StreamEvent(data: Array(repeating: 1, count: 16), isEssential: true)) == .enqueued)
        #expect(bytes.push(event("abc")) == .full)
        #expect(bytes.push(StreamEvent(data: Array(repeating: 1, count: 8), isEssential: true)) == .full)
        #expect(bytes.isOverflowed)
        // A queue nobody can close takes every answer, as before.
        let unowned = OutboundQueue(capacity: 1, maximumBytes: 10)
        for _ in 0..<5 { #expect(unowned.push(answer) == .enqueued) }
        #expect(!unowned.isOverflowed)
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

    static func limits(
        events: Int = 10,
        bytes: Int = 1 << 20,
        total: Int = 1 << 30,
        sessions: Int = 100,
        retention: Duration = .seconds(60)
    ) -> ReplayBuffers<ContinuousClock.Instant>.Limits {
        .init(
            eventsPerSession: events,
            bytesPerSession: bytes,
            totalBytes: total,
            maximumSessions: sessions,
            retention: retention
        )
    }

    static func event(_ sequence: Int, bytes: Int = 1, stream: String = "g") -> LoggedEvent {
        LoggedEvent(stream: stream, sequence: sequence, data: Array(repeating: 0x61, count: bytes), isFinal: false)
    }

    @Test func replayBufferKeepsTheLastEventsOfEachStream() async {
        let log = InMemorySessionEventLog(limits: Self.limits(events: 3))
        for sequence in 1...4 { log.record(Self.event(sequence), session: "a") }
        log.record(LoggedEvent(stream: "c9", sequence: 5, data: [5], isFinal: true), session: "a")
        // Capacity 3: events 1 and 2 are gone; the call stream is kept apart.
        #expect(await log.events(session: "a", stream: "g", after: 0).map(\.sequence) == [3, 4])
        #expect(await log.events(session: "a", stream: "g", after: 3).map(\.sequence) == [4])
        #expect(await log.events(session: "a", stream: "c9", after: 0).map(\.isFinal) == [true])
        #expect(await log.events(session: "b", stream: "g", after: 0).isEmpty)
        log.forget(session: "a")
        #expect(await log.events(session: "a", stream: "g", after: 0).isEmpty)
        #expect(log.totalBytes == 0)
    }

    @Test func replayBufferForgetsOldEventsAndIdleSessions() {
        let start = ContinuousClock.now
        var buffers = ReplayBuffers(limits: Self.limits(sessions: 10, retention: .milliseconds(50)))
        buffers.record(Self.event(1), session: "old", now: start)
        #expect(buffers.events(session: "old", stream: "g", after: 0, now: start + .milliseconds(80)).isEmpty)
        for index in 0..<11 {
            buffers.record(Self.event(index), session: "s\(index)", now: start + .milliseconds(80 + index))
        }
        #expect(buffers.sessionCount <= 10)
        #expect(buffers.events(session: "old", stream: "g", after: 0, now: start + .milliseconds(100)).isEmpty)
    }

    @Test func replayBufferIsBoundedInBytesPerSession() {
        let now = ContinuousClock.now
        let cost = ReplayBuffers<ContinuousClock.Instant>.cost(of: Self.event(0, bytes: 1000))
        var buffers = ReplayBuffers(limits: Self.limits(events: 1000, bytes: 3 * cost))
        for sequence in 1...10 { buffers.record(Self.event(sequence, bytes: 1000), session: "a", now: now) }
        // Three events fit the byte budget: the oldest seven went, whatever the event count allows.
        #expect(buffers.events(session: "a", stream: "g", after: 0, now: now).map(\.sequence) == [8, 9, 10])
        #expect(buffers.totalBytes == 3 * cost)
        // One event larger than the whole budget is not kept, and pushes nothing out.
        let kept = buffers.record(Self.event(11, bytes: 4 * cost), session: "a", now: now)
        #expect(!kept)
        #expect(buffers.events(session: "a", stream: "g", after: 0, now: now).map(\.sequence) == [8, 9, 10])
    }

    @Test func replayBufferIsBoundedInBytesPerNodeEvictingTheIdlest() {
        let start = ContinuousClock.now
        let cost = ReplayBuffers<ContinuousClock.Instant>.cost(of: Self.event(0, bytes: 1000))
        var buffers = ReplayBuffers(limits: Self.limits(events: 1000, bytes: 100 * cost, total: 10 * cost))
        for index in 0..<10 {
            buffers.record(Self.event(index, bytes: 1000), session: "s\(index)", now: start + .milliseconds(index))
        }
        #expect(buffers.totalBytes == 10 * cost && buffers.sessionCount == 10)
        buffers.record(Self.event(99, bytes: 1000), session: "s9", now: start + .milliseconds(20))
        // Over the node budget: the idlest sessions went until a tenth was free; the newest stay.
        #expect(buffers.totalBytes <= 9 * cost)
        #expect(buffers.events(session: "s0", stream: "g", after: -1, now: start).isEmpty)
        #expect(buffers.events(session: "s9", stream: "g", after: -1, now: start).map(\.sequence) == [9, 99])
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

/// Counts calls, for tests.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
