import Testing

@testable import GatewayUpstream

/// One upstream session per gateway, created once while others wait: the table's decisions,
/// with plain values for sessions and waiters.
@Suite struct UpstreamSessionTableStateMachineTests {
    typealias Machine = UpstreamSessionTableStateMachine<String, Int>

    @Test func theFirstCallerCreatesAndLaterOnesWaitForIt() {
        var machine = Machine()
        guard case .create(let generation) = machine.lookup("g") else {
            Issue.record("the first caller creates")
            return
        }
        guard case .wait = machine.lookup("g") else {
            Issue.record("a second caller waits")
            return
        }
        guard case .queued = machine.wait(7, for: "g"), case .queued = machine.wait(8, for: "g") else {
            Issue.record("waiters queue while the session is created")
            return
        }
        let resumed = machine.created("g", "session-1", generation: generation)
        #expect(resumed == [7, 8])
        guard case .ready(let session) = machine.lookup("g") else {
            Issue.record("later callers get the session at once")
            return
        }
        #expect(session == "session-1")
    }

    @Test func aFailedCreationFailsItsWaitersAndTheNextCallerTriesAgain() {
        var machine = Machine()
        guard case .create(let first) = machine.lookup("g") else { return }
        _ = machine.wait(1, for: "g")
        let failed = machine.failed("g")
        #expect(failed == [1])
        guard case .failed = machine.wait(2, for: "g") else {
            Issue.record("a caller that arrives after the failure fails too")
            return
        }
        guard case .create(let second) = machine.lookup("g") else {
            Issue.record("the next caller creates again")
            return
        }
        #expect(second == first + 1)
    }

    @Test func aStaleGenerationIsNotInvalidatedTwice() {
        var machine = Machine()
        guard case .create(let first) = machine.lookup("g") else { return }
        _ = machine.created("g", "old", generation: first)
        let dropped = machine.invalidate("g", generation: first)
        #expect(dropped == "old")
        guard case .create(let second) = machine.lookup("g") else { return }
        _ = machine.created("g", "new", generation: second)
        let stale = machine.invalidate("g", generation: first)
        #expect(stale == nil, "the new session stays")
        let removed = machine.removeAll()
        #expect(removed == ["new"])
    }

    @Test func removeLeavesASessionBeingCreatedToItsCreator() {
        var machine = Machine()
        guard case .create(let generation) = machine.lookup("g") else { return }
        let removed = machine.remove("g")
        #expect(removed == nil)
        let resumed = machine.created("g", "s", generation: generation)
        #expect(resumed.isEmpty)
        let ready = machine.remove("g")
        #expect(ready == "s")
    }
}
