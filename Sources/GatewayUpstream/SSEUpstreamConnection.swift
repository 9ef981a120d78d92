import GatewayCore
import Synchronization

/// A legacy HTTP+SSE (2024-11-05) upstream connection: requests are POSTed to the endpoint the
/// stream announced, and responses come back as `message` events on the stream, matched by id.
final class SSEUpstreamConnection: Sendable {
    struct State {
        var endpoint: String?
        var endpointWaiters: [CheckedContinuation<String, any Error>] = []
        var pending: [[UInt8]: CheckedContinuation<JSONRPCMessage, any Error>] = [:]
        var closed: UpstreamError?
    }

    private let state = Mutex(State())

    /// Called by the reader when the stream announced where to POST.
    func announceEndpoint(_ endpoint: String) {
        let waiters = state.withLock { state in
            state.endpoint = endpoint
            defer { state.endpointWaiters = [] }
            return state.endpointWaiters
        }
        for waiter in waiters { waiter.resume(returning: endpoint) }
    }

    /// The POST endpoint, waiting for the stream to announce it.
    func endpoint() async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            let outcome: Result<String, any Error>? = state.withLock { state in
                if let closed = state.closed { return .failure(closed) }
                if let endpoint = state.endpoint { return .success(endpoint) }
                state.endpointWaiters.append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// Waits for the response to request `id`, registered before the request is sent.
    func response(to id: JSONRPCID, afterSending send: @Sendable () async throws -> Void) async throws -> JSONRPCMessage {
        try await withThrowingTaskGroup(of: JSONRPCMessage?.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        let failure: UpstreamError? = self.state.withLock { state in
                            if let closed = state.closed { return closed }
                            state.pending[id.raw] = continuation
                            return nil
                        }
                        if let failure { continuation.resume(throwing: failure) }
                    }
                } onCancel: {
                    let waiter = self.state.withLock { $0.pending.removeValue(forKey: id.raw) }
                    waiter?.resume(throwing: CancellationError())
                }
            }
            do {
                try await send()
            } catch {
                let waiter = self.state.withLock { $0.pending.removeValue(forKey: id.raw) }
                waiter?.resume(throwing: error)
                group.cancelAll()
                throw error
            }
            guard let message = try await group.next() ?? nil else {
                throw UpstreamError(.protocolViolation, "SSE stream closed before the response")
            }
            return message
        }
    }

    /// Called by the reader for each message on the stream.
    func deliver(_ message: JSONRPCMessage) {
        guard message.kind == .response || message.kind == .errorResponse, let id = message.id else { return }
        let waiter = state.withLock { $0.pending.removeValue(forKey: id.raw) }
        waiter?.resume(returning: message)
    }

    /// Fails everything waiting; later calls fail at once.
    func close(_ error: UpstreamError) {
        let (waiters, endpointWaiters) = state.withLock { state in
            state.closed = error
            defer {
                state.pending = [:]
                state.endpointWaiters = []
            }
            return (Array(state.pending.values), state.endpointWaiters)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
        for waiter in endpointWaiters { waiter.resume(throwing: error) }
    }

    var isClosed: Bool { state.withLock { $0.closed != nil } }
}
