import Testing

@testable import GatewayCore

@Suite struct SyncScheduleTests {
    typealias Schedule = SyncSchedule<ContinuousClock.Instant>
    let start = ContinuousClock.now
    let a = Schedule.Upstream(id: "a", interval: .seconds(10))
    let b = Schedule.Upstream(id: "b", interval: .seconds(30))

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    /// What `next` starts at `milliseconds`, sorted.
    func started(_ schedule: inout Schedule, at milliseconds: Int, _ upstreams: [Schedule.Upstream]? = nil) -> [String]
    {
        schedule.next(now: at(milliseconds), upstreams: upstreams ?? [a, b]).sorted()
    }

    /// Whether `finished` asks for another listing at once.
    func again(_ schedule: inout Schedule, _ id: String, at milliseconds: Int) -> Bool {
        schedule.finished(id, now: at(milliseconds))
    }

    /// A leader whose term has listed `a` and `b` once (started at 0, finished at 100).
    func leading() -> Schedule {
        var schedule = Schedule(settle: .milliseconds(250))
        schedule.lead(epoch: 7)
        _ = schedule.next(now: at(0), upstreams: [a, b])
        _ = schedule.finished("a", now: at(100))
        _ = schedule.finished("b", now: at(100))
        return schedule
    }

    @Test func aNodeThatDoesNotLeadListsNothing() {
        var schedule = Schedule()
        schedule.requested("a", now: at(0))
        #expect(started(&schedule, at: 60_000).isEmpty)
        #expect(schedule.nextDeadline(upstreams: [a, b]) == nil)
    }

    @Test func aNewTermListsEverythingAtOnceThenOnTheIntervals() {
        var schedule = Schedule()
        schedule.lead(epoch: 1)
        #expect(started(&schedule, at: 0) == ["a", "b"])
        #expect(started(&schedule, at: 50).isEmpty, "running listings are not started twice")
        #expect(!again(&schedule, "a", at: 100))
        #expect(!again(&schedule, "b", at: 100))
        #expect(schedule.nextDeadline(upstreams: [a, b]) == at(10_100))
        #expect(started(&schedule, at: 10_099).isEmpty)
        #expect(started(&schedule, at: 10_100) == ["a"])
        #expect(started(&schedule, at: 30_100) == ["b"])
    }

    @Test func requestsHeardByManyNodesMakeOneListing() {
        var schedule = leading()
        schedule.requested("a", now: at(1000))
        schedule.requested("a", now: at(1010))
        schedule.requested("a", now: at(1200))
        #expect(schedule.nextDeadline(upstreams: [a, b]) == at(1250))
        #expect(started(&schedule, at: 1249).isEmpty, "requests wait for the others to join")
        #expect(started(&schedule, at: 1250) == ["a"])
        #expect(!again(&schedule, "a", at: 1400), "no request came while it ran")
    }

    @Test func aRequestDuringAListingMakesExactlyOneMore() {
        var schedule = leading()
        schedule.requested("a", now: at(1000))
        #expect(started(&schedule, at: 1250) == ["a"])
        schedule.requested("a", now: at(1300))
        schedule.requested("a", now: at(1310))
        #expect(again(&schedule, "a", at: 1400), "list again: the change may have come after the listing")
        #expect(!again(&schedule, "a", at: 1500))
    }

    @Test func losingTheLeadAndANewTermStartOver() {
        var schedule = leading()
        schedule.lead(epoch: nil)
        #expect(started(&schedule, at: 2000).isEmpty)
        schedule.lead(epoch: 9)
        #expect(started(&schedule, at: 2000) == ["a", "b"], "the new term catches up")
    }

    @Test func requestsForUpstreamsThatLeftAreDropped() {
        var schedule = leading()
        schedule.requested("gone", now: at(1000))
        #expect(started(&schedule, at: 2000).isEmpty)
        let gone = Schedule.Upstream(id: "gone", interval: .seconds(5))
        #expect(started(&schedule, at: 2000, [a, b, gone]) == ["gone"], "new in this term: listed at once")
    }

    @Test func aListingThatOutlivesItsTermIsNotCountedAndNotStuck() {
        var schedule = leading()
        schedule.requested("a", now: at(1000))
        #expect(started(&schedule, at: 1250) == ["a"])
        schedule.requested("a", now: at(1300))  // a request while it runs: one more, in this term
        schedule.lead(epoch: nil)
        schedule.lead(epoch: 9)
        #expect(started(&schedule, at: 1400) == ["b"], "a's old-term listing still runs: not started twice")
        #expect(!again(&schedule, "a", at: 1500), "its end is ignored: the new term lists it itself")
        #expect(started(&schedule, at: 1600) == ["a"], "not stuck: the new term lists it at the next look")
        #expect(!again(&schedule, "a", at: 1700))
        #expect(schedule.nextDeadline(upstreams: [a, b]) == at(11_700))
    }

    @Test func aNewTermListsAtMostSoManyAtOnce() {
        var schedule = Schedule(maximumRunning: 2)
        schedule.lead(epoch: 1)
        let many = (1...5).map { Schedule.Upstream(id: "u\($0)", interval: .seconds(60)) }
        #expect(started(&schedule, at: 0, many) == ["u1", "u2"])
        #expect(started(&schedule, at: 10, many).isEmpty, "two running: the others wait")
        #expect(!again(&schedule, "u1", at: 20))
        #expect(started(&schedule, at: 30, many) == ["u3"])
    }
}
