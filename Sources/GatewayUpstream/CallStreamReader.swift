import GatewayCore
import Synchronization

/// Sorts the messages an upstream streams back on one call's SSE response: the response to the
/// call (kept), notifications (to the relay) and requests to the client (asked through the relay,
/// the answer posted back to the upstream).
///
/// Requests run as tasks tied to the call: ``finish()`` cancels those still waiting when the call
/// ends, so nothing outlives it.
final class CallStreamReader: Sendable {
    let expected: JSONRPCID
    let relay: (any UpstreamCallRelay)?
    let answer: @Sendable (JSONRPCID, UpstreamReply) async -> Void
    /// Requests of the upstream being put to the client, by the upstream's request id.
    private let tasks = Mutex<(finished: Bool, running: [JSONRPCID: Task<Void, Never>])>((false, [:]))

    /// - Parameter answer: posts the client's answer to an upstream request back to the upstream.
    init(
        expecting expected: JSONRPCID,
        relay: (any UpstreamCallRelay)?,
        answer: @escaping @Sendable (JSONRPCID, UpstreamReply) async -> Void
    ) {
        self.expected = expected
        self.relay = relay
        self.answer = answer
    }

    /// Takes one message event; `true` when it is the call's response.
    @Sendable func accept(_ data: [UInt8]) -> Bool {
        guard let message = try? JSONRPCMessage(bytes: data) else { return false }
        switch message.kind {
        case .response, .errorResponse:
            return message.id == expected
        case .notification where message.method == "notifications/cancelled":
            // The upstream withdrew one of its requests to the client: stop asking.
            if let range = message.paramMembers().first(where: { $0.key == "requestId" })?.range {
                let id = JSONRPCID(raw: Array(message.bytes[range]))
                tasks.withLock { $0.running.removeValue(forKey: id) }?.cancel()
            }
            return false
        case .notification:
            relay?.notify(message)
            return false
        case .request:
            guard let id = message.id else { return false }
            let method = message.method ?? ""
            let params = message.paramsBytes.map { Array($0) }
            let relay = relay
            let answer = answer
            // Registered under the lock it removes itself with; a withdrawn or orphaned request
            // (cancelled) answers nobody.
            tasks.withLock { state in
                guard !state.finished else { return }
                state.running[id] = Task {
                    let reply =
                        await relay?.ask(method: method, params: params)
                        ?? .error(
                            JSONRPCError(code: .methodNotFound, message: "No client to ask: \(method)").errorObjectBytes
                        )
                    self.tasks.withLock { _ = $0.running.removeValue(forKey: id) }
                    guard !Task.isCancelled else { return }
                    await answer(id, reply)
                }
            }
            return false
        }
    }

    /// The call ended: requests still waiting for the client are cancelled.
    func finish() {
        let running = tasks.withLock { state in
            state.finished = true
            defer { state.running = [:] }
            return Array(state.running.values)
        }
        for task in running { task.cancel() }
    }
}
