/// Mutual exclusion across suspension points, in FIFO order: `withLock` bodies never overlap,
/// even when they await.
package actor AsyncMutex {
    package init() {}

    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        if locked {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            locked = true
        }
        defer {
            if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
