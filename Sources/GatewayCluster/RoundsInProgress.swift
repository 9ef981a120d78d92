import Synchronization

/// The coordinator's rounds of work in progress (heartbeats, lease renewals) and the one waiting
/// for them to end: after ``close(waitingAtMost:)`` no round begins, and it returns once the
/// running ones ended (or the limit passed). So a node stepping down cannot take the lease or
/// announce itself again afterwards, and nobody polls to find out.
final class RoundsInProgress: Sendable {
    private struct State {
        var running = 0
        var closed = false
        var waiters: [AsyncStream<Void>.Continuation] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Begins a round; `false` once closed (then the round must not run).
    func begin() -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.running += 1
            return true
        }
    }

    /// Ends a round begun with ``begin()``.
    func end() {
        let waiters: [AsyncStream<Void>.Continuation] = state.withLock { state in
            state.running -= 1
            guard state.closed, state.running == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters {
            waiter.yield()
            waiter.finish()
        }
    }

    /// Whether ``close(waitingAtMost:)`` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Lets no round begin again, and waits until none runs, at most `limit`. `false` when
    /// already closed (by an earlier call).
    @discardableResult
    func close(waitingAtMost limit: Duration) async -> Bool {
        let (idle, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (first, waits): (Bool, Bool) = state.withLock { state in
            let first = !state.closed
            state.closed = true
            guard state.running > 0 else { return (first, false) }
            state.waiters.append(signal)
            return (first, true)
        }
        guard waits else { return first }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in idle { return }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
        return first
    }
}
