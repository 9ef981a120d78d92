import GatewayCore
import ServiceLifecycle

/// Runs `work` every `interval` (the first time one interval from now) until graceful shutdown
/// or cancellation: the body of the application's small periodic services.
func periodically(every interval: Duration, _ work: @escaping @Sendable () async -> Void) async {
    try? await cancelWhenGracefulShutdown {
        while true {
            try await Task.sleep(for: interval)
            await work()
        }
    }
}

/// Runs `round` while this node leads: at the start of each term and every `interval` within it
/// (looking at least every second), until graceful shutdown or cancellation; `notLeading` runs
/// at each look while it does not lead. The body of the leader's periodic duties.
func whileLeading(
    _ coordinator: any Coordinator,
    every interval: Duration,
    notLeading: @escaping @Sendable () async -> Void = {},
    round: @escaping @Sendable (_ epoch: Int64) async -> Void
) async {
    var last: (epoch: Int64, at: ContinuousClock.Instant)?
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
        try? await Task.sleep(for: min(interval, .seconds(1)))
        guard let epoch = coordinator.leaderEpoch() else {
            last = nil
            await notLeading()
            continue
        }
        if let last, last.epoch == epoch, last.at.duration(to: .now) < interval { continue }
        last = (epoch, .now)
        await cancelWhenGracefulShutdown { await round(epoch) }
    }
}
