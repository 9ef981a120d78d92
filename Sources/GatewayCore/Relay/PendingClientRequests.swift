import Synchronization

/// Requests the gateway sent to clients on behalf of upstreams (sampling, elicitation, roots),
/// waiting for the client to POST its answer.
///
/// Each request gets a gateway-wide id (`"<node>-<n>"`, never a client's own id) and belongs to
/// one owner (the client session): an answer is taken only from the session that was asked.
public final class PendingClientRequests: Sendable {
    struct Entry {
        let owner: String
        let continuation: CheckedContinuation<UpstreamReply, Never>
    }

    struct State {
        var next = 0
        var entries: [JSONRPCID: Entry] = [:]
    }

    /// Makes ids unique across the nodes of a cluster.
    public let prefix: String
    private let state = Mutex(State())

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// Sends a request with a fresh id through `send` and waits for its answer. Answers an error
    /// at once when `send` cannot deliver it, and when the waiting task is cancelled (the call it
    /// belongs to ended, or the upstream withdrew the request); then `withdrawn` is told the id,
    /// so the client can be told to stop.
    public func ask(
        owner: String,
        send: (JSONRPCID) -> Bool,
        withdrawn: @escaping @Sendable (JSONRPCID) -> Void = { _ in }
    ) async -> UpstreamReply {
        let id: JSONRPCID = state.withLock { state in
            state.next += 1
            return JSONRPCID(raw: ParamsRewriter.jsonString("\(prefix)-\(state.next)"))
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<UpstreamReply, Never>) in
                let registered = state.withLock { state -> Bool in
                    if Task.isCancelled { return false }
                    state.entries[id] = Entry(owner: owner, continuation: continuation)
                    return true
                }
                guard registered else {
                    continuation.resume(returning: Self.failure("the request was cancelled"))
                    return
                }
                if !send(id) {
                    let entry = state.withLock { $0.entries.removeValue(forKey: id) }
                    entry?.continuation.resume(returning: Self.failure("the client's stream cannot take more messages"))
                }
            }
        } onCancel: {
            let entry = state.withLock { $0.entries.removeValue(forKey: id) }
            entry?.continuation.resume(returning: Self.failure("the request was cancelled"))
            if entry != nil { withdrawn(id) }
        }
    }

    /// Delivers a client's answer; `false` when no request with that id is waiting for `owner`.
    public func resolve(id: JSONRPCID, owner: String, reply: UpstreamReply) -> Bool {
        let entry: Entry? = state.withLock { state in
            guard let entry = state.entries[id], entry.owner == owner else { return nil }
            state.entries[id] = nil
            return entry
        }
        entry?.continuation.resume(returning: reply)
        return entry != nil
    }

    /// How many requests are waiting.
    public var count: Int { state.withLock { $0.entries.count } }

    static func failure(_ message: String) -> UpstreamReply {
        .error(JSONRPCError(code: .internalError, message: message).errorObjectBytes)
    }
}
