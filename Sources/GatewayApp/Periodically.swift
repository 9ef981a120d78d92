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
