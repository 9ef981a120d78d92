import GatewayCore
import Synchronization

/// A legacy HTTP+SSE (2024-11-05) upstream connection: requests are POSTed to the endpoint the
/// stream announced, and responses come back as `message` events on the stream, matched by id.
///
/// A request's slot is registered before the request is sent, so a response that arrives before
/// the caller starts waiting is kept, not lost. Closing the connection fails every waiter and
/// ends the stream reader.
final class SSEUpstreamConnection: Sendable {
    enum Slot {
        /// Sent, response not yet arrived, nobody waiting yet.
        case registered
        /// Someone is waiting.
        case waiting(CheckedContinuation<JSONRPCMessage, any Error>)
        /// Arrived before anyone waited.
        case arrived(JSONRPCMessage)
    }

    struct State {
        var endpoint: String?
        var endpointWaiters: [Int: CheckedContinuation<String, any Error>] = [:]
        var slots: [[UInt8]: Slot] = [:]
        var closed: UpstreamError?
        var closeWaiter: CheckedContinuation<Void, Never>?
        var nextWaiter = 0
    }

    private let state = Mutex(State())
    /// Calls in flight whose progress, logs and requests arrive on the shared stream.
    let relays = InFlightRelays()

    /// Called by the reader when the stream announced where to POST.
    func announceEndpoint(_ endpoint: String) {
        let waiters = state.withLock { state in
            state.endpoint = endpoint
            defer { state.endpointWaiters = [:] }
            return Array(state.endpointWaiters.values)
        }
        for waiter in waiters { waiter.resume(returning: endpoint) }
    }

    /// The POST endpoint, waiting (cancellably) for the stream to announce it.
    func endpoint() async throws -> String {
        let ticket = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<String, any Error>? = state.withLock { state in
                    if let closed = state.closed { return .failure(closed) }
                    if let endpoint = state.endpoint { return .success(endpoint) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.endpointWaiters[ticket] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.endpointWaiters.removeValue(forKey: ticket) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Registers a slot for `id`, runs `send`, then waits for the response.
    func response(to id: JSONRPCID, afterSending send: () async throws -> Void) async throws -> JSONRPCMessage {
        if let closed = state.withLock({ state -> UpstreamError? in
            if state.closed == nil { state.slots[id.raw] = .registered }
            return state.closed
        }) {
            throw closed
        }
        do {
            try await send()
        } catch {
            _ = state.withLock { $0.slots.removeValue(forKey: id.raw) }
            throw error
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<JSONRPCMessage, any Error>? = state.withLock { state in
                    switch state.slots[id.raw] {
                    case .arrived(let message):
                        state.slots[id.raw] = nil
                        return .success(message)
                    case .registered where !Task.isCancelled:
                        state.slots[id.raw] = .waiting(continuation)
                        return nil
                    case .registered:
                        state.slots[id.raw] = nil
                        return .failure(CancellationError())
                    case .waiting, nil:
                        return .failure(state.closed ?? UpstreamError(.unreachable, "the SSE stream closed"))
                    }
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let slot = state.withLock { $0.slots.removeValue(forKey: id.raw) }
            if case .waiting(let continuation) = slot { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Called by the reader for each message on the stream.
    func deliver(_ message: JSONRPCMessage) {
        guard message.kind == .response || message.kind == .errorResponse, let id = message.id else { return }
        let waiter: CheckedContinuation<JSONRPCMessage, any Error>? = state.withLock { state in
            switch state.slots[id.raw] {
            case .registered:
                state.slots[id.raw] = .arrived(message)
                return nil
            case .waiting(let continuation):
                state.slots[id.raw] = nil
                return continuation
            case .arrived, nil:
                return nil
            }
        }
        waiter?.resume(returning: message)
    }

    /// Fails everything waiting, makes later calls fail at once, and ends the stream reader.
    func close(_ error: UpstreamError) {
        let (waiters, endpointWaiters, closeWaiter) = state.withLock { state in
            if state.closed == nil { state.closed = error }
            var waiters: [CheckedContinuation<JSONRPCMessage, any Error>] = []
            for case .waiting(let continuation) in state.slots.values { waiters.append(continuation) }
            defer {
                state.slots = [:]
                state.endpointWaiters = [:]
                state.closeWaiter = nil
            }
            return (waiters, Array(state.endpointWaiters.values), state.closeWaiter)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
        for waiter in endpointWaiters { waiter.resume(throwing: error) }
        closeWaiter?.resume()
    }

    /// Returns once ``close(_:)`` was called; the reader races its stream against this.
    func closed() async {
        await withCheckedContinuation { continuation in
            let alreadyClosed = state.withLock { state in
                if state.closed != nil { return true }
                state.closeWaiter = continuation
                return false
            }
            if alreadyClosed { continuation.resume() }
        }
    }

    var isClosed: Bool { state.withLock { $0.closed != nil } }
}
