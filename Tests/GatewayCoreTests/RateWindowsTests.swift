import Testing

@testable import GatewayCore

@Suite struct RateWindowsTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func countsWithinAWindowAndStartsAfreshAfterIt() {
        var windows = RateWindows<ContinuousClock.Instant>(capacity: 10)
        #expect(windows.hit("a", window: .seconds(60), now: at(0)) == (1, .seconds(60)))
        #expect(windows.hit("a", window: .seconds(60), now: at(1000)).count == 2)
        #expect(windows.hit("a", window: .seconds(60), now: at(1000)).resetIn == .seconds(59))
        #expect(windows.hit("b", window: .seconds(60), now: at(2000)).count == 1)
        #expect(windows.hit("a", window: .seconds(60), now: at(60_000)) == (1, .seconds(60)))
    }

    @Test func beyondCapacityTheOldestWindowIsEvictedNotEverything() {
        var windows = RateWindows<ContinuousClock.Instant>(capacity: 3)
        for (index, key) in ["a", "b", "c"].enumerated() { _ = windows.hit(key, window: .seconds(60), now: at(index)) }
        _ = windows.hit("b", window: .seconds(60), now: at(10))
        _ = windows.hit("d", window: .seconds(60), now: at(20))
        #expect(windows.count == 3)
        // "a" started first and went; "b" kept its count.
        #expect(windows.hit("b", window: .seconds(60), now: at(30)).count == 3)
        #expect(windows.hit("a", window: .seconds(60), now: at(40)).count == 1)
    }

    @Test func aFloodOfLiveKeysStaysWithinTheBound() {
        // Every key's window is still running: nothing is stale, the oldest must go.
        let counter = InProcessRateCounter(capacity: 1000)
        for index in 0..<5000 { _ = counter.hit("ip:198.51.\(index / 256).\(index % 256)", window: .seconds(60)) }
        #expect(counter.keyCount == 1000)
        #expect(counter.hit("ip:198.51.19.135", window: .seconds(60)).count == 2, "the newest keys are kept")
    }

    @Test func endedWindowsAreDroppedAsHitsPass() {
        var windows = RateWindows<ContinuousClock.Instant>(capacity: 100)
        for index in 0..<50 { _ = windows.hit("k\(index)", window: .seconds(1), now: at(0)) }
        for step in 0..<30 { _ = windows.hit("live", window: .seconds(1), now: at(2000 + step)) }
        #expect(windows.count < 50)
    }
}
