import GatewayCore
import GatewayTesting
import Testing

@testable import GatewaySession

/// Stream holding, takeover and retention, driven by a manual clock: no connections, no sleeps.
@Suite struct StreamTableTests {
    final class Connection {}
    typealias Table = StreamTable<Connection, ManualClock.Instant>
    let clock = ManualClock()

    @Test func aNewConnectionReplacesTheOldOneOnTheSameStream() {
        var table = Table(retention: .seconds(60))
        let first = Connection()
        let second = Connection()
        let attached = table.attach(first, session: "s", stream: StreamName.get, serverID: nil)
        #expect(attached.replaced == nil)
        let (replaced, open) = table.attach(second, session: "s", stream: StreamName.get, serverID: nil)
        #expect(replaced === first && open)
        let again = table.attach(second, session: "s", stream: StreamName.get, serverID: nil)
        #expect(again.replaced == nil, "not itself")
        let detached = table.detach(first, session: "s", stream: StreamName.get, at: clock.now)
        #expect(!detached, "the old one no longer holds it")
        #expect(table.counts == (1, 1))
    }

    @Test func aStreamTakenOverElsewhereIsLetGoAndStopsCollecting() {
        var table = Table(retention: .seconds(60))
        let connection = Connection()
        _ = table.attach(connection, session: "s", stream: StreamName.get, serverID: "v")
        let released = table.release(session: "s", stream: StreamName.get)
        #expect(released === connection)
        #expect(table.counts == (0, 0), "nothing left for the session on this node")
        guard case .forward = table.deliver(session: "s", stream: StreamName.get, isFinal: false) else {
            Issue.record("an event for a stream held elsewhere must be forwarded")
            return
        }
        let listeners = table.listeners(at: clock.now)
        #expect(listeners.isEmpty)
    }

    @Test func aDroppedGetStreamCollectsForTheRetentionThenIsForgotten() {
        var table = Table(retention: .seconds(60))
        let connection = Connection()
        _ = table.attach(connection, session: "s", stream: StreamName.get, serverID: "v")
        let detached = table.detach(connection, session: "s", stream: StreamName.get, at: clock.now)
        #expect(detached)
        clock.advance(by: .seconds(60))
        let within = table.listeners(at: clock.now)
        #expect(within.map(\.session) == ["s"], "still within the retention")
        clock.advance(by: .milliseconds(1))
        let after = table.listeners(at: clock.now)
        #expect(after.isEmpty)
        #expect(table.counts == (0, 0))
    }

    @Test func aCallStreamThatEndsUnseenIsRememberedAsCompleted() {
        var table = Table(retention: .seconds(60))
        let call = Connection()
        _ = table.attach(call, session: "s", stream: "c1", serverID: nil)
        let detached = table.detach(call, session: "s", stream: "c1", at: clock.now)
        #expect(detached)
        guard case .forward = table.deliver(session: "s", stream: "c1", isFinal: true) else {
            Issue.record("no connection saw the final event")
            return
        }
        // A client resuming the call stream learns at once that it is over.
        let resumed = table.attach(Connection(), session: "s", stream: "c1", serverID: nil)
        #expect(resumed.open == false)
    }

    @Test func aFinalEventEndsTheAttachedConnection() {
        var table = Table(retention: .seconds(60))
        let call = Connection()
        _ = table.attach(call, session: "s", stream: "c2", serverID: nil)
        guard case .push(let target, let finish) = table.deliver(session: "s", stream: "c2", isFinal: true) else {
            Issue.record("the attached connection gets the final event")
            return
        }
        #expect(target === call && finish)
        #expect(table.counts == (0, 0))
    }

    @Test func eventNumbersNeverRepeatNorGoBack() {
        #expect(EventSequence.next(after: 0, now: 1_000) == 1_000)
        #expect(EventSequence.next(after: 1_000, now: 1_000) == 1_001)
        #expect(EventSequence.next(after: 5_000, now: 1_000) == 5_001, "a clock stepping back")
    }
}
