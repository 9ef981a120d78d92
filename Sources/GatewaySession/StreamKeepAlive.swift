import GatewayCore
import ServiceLifecycle
import Synchronization

/// Sends a keep-alive comment on every open client stream each `interval`, so idle streams are
/// not cut by proxies, a call that runs long switches to a stream, and a client that went away
/// is noticed (the write fails) within one interval. One timer for the whole node, not one task
/// per stream.
public final class StreamKeepAlive: Service, Sendable {
    /// Time between keep-alive comments (SSE_KEEPALIVE_INTERVAL).
    public let interval: Duration
    private let streams = Mutex<(next: Int, open: [Int: OutboundQueue])>((0, [:]))

    public init(interval: Duration) {
        self.interval = interval
    }

    /// Starts pinging `queue`; returns the token for ``unregister(_:)``.
    public func register(_ queue: OutboundQueue) -> Int {
        streams.withLock { state in
            state.next += 1
            state.open[state.next] = queue
            return state.next
        }
    }

    /// Stops pinging the queue registered under `token`.
    public func unregister(_ token: Int) {
        _ = streams.withLock { $0.open.removeValue(forKey: token) }
    }

    /// How many streams are open.
    public var openStreams: Int { streams.withLock { $0.open.count } }

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            let open = streams.withLock { Array($0.open.values) }
            for queue in open { queue.push(.keepAlive) }
        }
        // On shutdown every open stream ends, so clients reconnect elsewhere.
        let open = streams.withLock { state in
            defer { state.open = [:] }
            return Array(state.open.values)
        }
        for queue in open { queue.finish() }
    }
}
