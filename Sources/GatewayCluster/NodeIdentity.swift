import GatewayCore
import Synchronization

/// Who this node is, as announced to the cluster.
public struct NodeIdentity: Sendable {
    public var id: String
    /// Where other nodes and operators reach it (NODE_ADDRESS, default HOST:PORT).
    public var address: String
    public var version: String
    /// Milliseconds since 1970.
    public var startedAt: Int64

    public init(id: String, address: String, version: String, startedAt: Int64 = Timestamp.now().millisecondsSince1970)
    {
        self.id = id
        self.address = address
        self.version = version
        self.startedAt = startedAt
    }
}

/// Local fan-out of announcements to every current listener.
final class LocalBroadcast<Element: Sendable>: Sendable {
    private struct State {
        var listeners: [Int: AsyncStream<Element>.Continuation] = [:]
        var next = 0
    }

    private let state = Mutex(State())
    private let buffering: AsyncStream<Element>.Continuation.BufferingPolicy

    init(buffering: AsyncStream<Element>.Continuation.BufferingPolicy) {
        self.buffering = buffering
    }

    func yield(_ element: Element) {
        let listeners = state.withLock { Array($0.listeners.values) }
        for listener in listeners { listener.yield(element) }
    }

    func stream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: buffering)
        let id = state.withLock { state in
            let id = state.next
            state.next += 1
            state.listeners[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.listeners.removeValue(forKey: id) }
        }
        return stream
    }
}
