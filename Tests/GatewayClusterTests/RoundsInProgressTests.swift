import Synchronization
import Testing

@testable import GatewayCluster

/// Stepping down waits for the round in progress, without polling, and no round begins after.
@Suite struct RoundsInProgressTests {
    final class Flag: Sendable {
        let value = Mutex(false)
    }

    @Test func closingWaitsForTheRunningRoundAndRefusesNewOnes() async {
        let rounds = RoundsInProgress()
        let returned = Flag()
        #expect(rounds.begin())
        let closing = Task {
            let first = await rounds.close(waitingAtMost: .seconds(3600))
            returned.value.withLock { $0 = true }
            return first
        }
        while !rounds.isClosed { await Task.yield() }
        for _ in 0..<100 { await Task.yield() }
        #expect(returned.value.withLock { $0 } == false, "the close must wait for the running round")
        #expect(!rounds.begin(), "no round begins once closed")
        rounds.end()
        #expect(await closing.value == true)
        #expect(await rounds.close(waitingAtMost: .seconds(3600)) == false, "a second close is a no-op")
    }

    @Test func closingWithNothingRunningReturnsAtOnce() async {
        let rounds = RoundsInProgress()
        #expect(rounds.begin())
        rounds.end()
        #expect(await rounds.close(waitingAtMost: .seconds(3600)))
        #expect(!rounds.begin())
    }
}
