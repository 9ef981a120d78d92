import GatewayTesting
import Testing

@testable import GatewayCluster

/// The leader lease's term logic, driven by a manual clock: no Redis, no sleeps.
@Suite struct LeaseStateMachineTests {
    typealias Machine = LeaseStateMachine<ManualClock.Instant>
    let clock = ManualClock()

    /// A machine holding the term `node|7|1000`, acquired at the clock's now.
    func leading(ttl: Duration = .seconds(10)) -> Machine {
        var machine = Machine(ttl: ttl)
        let now = clock.now
        #expect(machine.startRound(at: now) == .readFloor)
        let step1 = machine.floorRead(6, at: now)
        #expect(step1 == .acquire(floor: 6))
        let step2 = machine.acquired("node|7|1000", startedAt: now)
        #expect(step2 == .init(leading: true, newTerm: true))
        return machine
    }

    @Test func aTermIsBelievedUntilTheTTLLessTheMarginFromTheRoundsStart() {
        let machine = leading()
        #expect(machine.epoch(at: clock.now) == 7)
        clock.advance(by: .milliseconds(8999))
        #expect(machine.epoch(at: clock.now) == 7)
        clock.advance(by: .milliseconds(1))
        #expect(machine.epoch(at: clock.now) == nil, "9 s = 10 s TTL less a tenth")
    }

    @Test func aRenewalExtendsFromWhenItStartedNotWhenRedisAnswered() {
        var machine = leading()
        clock.advance(by: .seconds(5))
        let started = clock.now
        #expect(machine.startRound(at: started) == .renew(value: "node|7|1000"))
        clock.advance(by: .seconds(3))  // a slow answer
        let step3 = machine.renewed(true, startedAt: started)
        #expect(step3 == .init(leading: true, newTerm: false))
        clock.advance(by: .milliseconds(5999))
        #expect(machine.epoch(at: clock.now) == 7)
        clock.advance(by: .milliseconds(1))
        #expect(machine.epoch(at: clock.now) == nil)
    }

    @Test func aRefusedRenewalEndsTheTermAtOnce() {
        var machine = leading()
        let step4 = machine.renewed(false, startedAt: clock.now)
        #expect(step4 == .init(leading: false, newTerm: false))
        #expect(machine.epoch(at: clock.now) == nil)
        #expect(machine.startRound(at: clock.now) == .acquire(floor: 6), "the floor read a moment ago is reused")
    }

    @Test func aRenewalWithNoAnswerKeepsTheTermOnlyUntilItRunsOut() {
        var machine = leading()
        clock.advance(by: .seconds(4))
        machine.renewalFailed(at: clock.now)
        #expect(machine.epoch(at: clock.now) == 7)
        #expect(machine.startRound(at: clock.now) == .renew(value: "node|7|1000"))
        clock.advance(by: .seconds(5))
        machine.renewalFailed(at: clock.now)
        #expect(machine.epoch(at: clock.now) == nil)
        #expect(machine.term == nil)
    }

    @Test func theStoresEpochIsReadAgainOnlyWhenStaleOrForgotten() {
        var machine = Machine(ttl: .seconds(10))
        let step5 = machine.floorRead(3, at: clock.now)
        #expect(step5 == .acquire(floor: 3))
        let step6 = machine.acquired(nil, startedAt: clock.now)
        #expect(step6 == .init(leading: false, newTerm: false))
        clock.advance(by: .milliseconds(9999))
        #expect(machine.startRound(at: clock.now) == .acquire(floor: 3))
        clock.advance(by: .milliseconds(1))
        #expect(machine.startRound(at: clock.now) == .readFloor)
        let step7 = machine.floorRead(nil, at: clock.now)
        #expect(step7 == Machine.Action.none, "no floor, no term sought")
        let step8 = machine.floorRead(4, at: clock.now)
        #expect(step8 == .acquire(floor: 4))
        machine.forgetFloor()
        #expect(machine.startRound(at: clock.now) == .readFloor)
    }

    @Test func releaseGivesTheValueToDeleteOnce() {
        var machine = leading()
        let step9 = machine.release()
        #expect(step9 == "node|7|1000")
        let step10 = machine.release()
        #expect(step10 == nil)
        #expect(machine.epoch(at: clock.now) == nil)
    }

    @Test func anUnreadableLeaseValueIsNoTerm() {
        var machine = Machine(ttl: .seconds(10))
        _ = machine.floorRead(1, at: clock.now)
        let step11 = machine.acquired("garbage", startedAt: clock.now)
        #expect(step11 == .init(leading: false, newTerm: false))
        #expect(machine.term == nil)
    }
}
