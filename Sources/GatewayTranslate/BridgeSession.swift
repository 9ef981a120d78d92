import GatewayCore
import Synchronization

/// One client session of the stdio bridge, with a process of its own (an MCP stdio server serves
/// one client: its initialize, its state). Lines from the process go to whoever waits for them:
/// a response to the POST that carried the request, anything else to the latest POST still
/// waiting (its SSE answer), else to the session's GET or SSE stream.
final class BridgeSession: Sendable {
    struct State {
        var waiting: [JSONRPCID: OutboundQueue] = [:]
        var order: [JSONRPCID] = []
        var stream: OutboundQueue?
        var ended = false
    }

    let key: String
    let process: LineProcess
    private let state = Mutex(State())

    init(key: String, process: LineProcess) {
        self.key = key
        self.process = process
    }

    /// Waits for the response to `id` on `queue` (the POST's answer).
    func expect(_ id: JSONRPCID, on queue: OutboundQueue) -> Bool {
        state.withLock { state in
            guard !state.ended else { return false }
            state.waiting[id] = queue
            state.order.append(id)
            return true
        }
    }

    /// The POST gave up waiting (its client went away).
    func forget(_ id: JSONRPCID) {
        state.withLock { state in
            state.waiting[id] = nil
            state.order.removeAll { $0 == id }
        }
    }

    /// Attaches the stream for messages nobody's POST waits for (GET, or the SSE transport's
    /// stream), ending any previous one.
    func attach(_ queue: OutboundQueue) {
        let previous = state.withLock { state in
            defer { state.stream = queue }
            return state.stream
        }
        if let previous, previous !== queue { previous.finish() }
    }

    func detach(_ queue: OutboundQueue) {
        state.withLock { state in
            if state.stream === queue { state.stream = nil }
        }
    }

    /// Reads the process's output until it ends, then ends the session.
    func pump() async {
        for await line in process.lines { route(line) }
        let queues = state.withLock { state in
            state.ended = true
            defer {
                state.waiting = [:]
                state.order = []
                state.stream = nil
            }
            return Array(state.waiting.values) + (state.stream.map { [$0] } ?? [])
        }
        for queue in queues { queue.finish() }
    }

    func route(_ line: [UInt8]) {
        let message = try? JSONRPCMessage(bytes: line)
        let (target, isFinal): (OutboundQueue?, Bool) = state.withLock { state in
            if let message, message.kind == .response || message.kind == .errorResponse, let id = message.id,
                let queue = state.waiting.removeValue(forKey: id)
            {
                state.order.removeAll { $0 == id }
                return (queue, true)
            }
            if let latest = state.order.last, let queue = state.waiting[latest] { return (queue, false) }
            return (state.stream, false)
        }
        guard let target else { return }
        target.push(StreamEvent(data: line, isFinal: isFinal))
        if isFinal { target.finish() }
    }

    var isEnded: Bool { state.withLock { $0.ended } }
}
