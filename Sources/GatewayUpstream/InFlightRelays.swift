import GatewayCore
import Synchronization

/// The calls in flight on an upstream connection that carries no request context of its own
/// (stdio, legacy SSE), and where what the upstream sends during them goes: progress by its
/// token (rewritten per call to `gwp-<request id>`, so calls of different clients never mix).
/// Log messages and requests to the client carry nothing to attribute them by, so they are
/// relayed only while exactly one call is in flight; with several, one client could otherwise
/// see another's logs or answer another's sampling request, so logs are dropped and requests
/// refused.
final class InFlightRelays: Sendable {
    struct Call {
        var relay: any UpstreamCallRelay
        /// The client's progress token, if any (the upstream sees the rewritten one).
        var clientToken: JSONValue?
    }

    private let calls = Mutex<[String: Call]>([:])
    /// Requests of the upstream being put to clients, by the upstream's request id, with the call
    /// they belong to (they end with it).
    private let asking = Mutex<[JSONRPCID: (call: String, task: Task<Void, Never>)]>([:])

    /// Registers a call about to be sent with request id `id`; returns the params to send (with
    /// the progress token rewritten) and the key for ``unregister(_:)``.
    func register(_ relay: any UpstreamCallRelay, id: JSONRPCID, params: [UInt8]?) -> (params: [UInt8]?, key: String) {
        let key = "gwp-\(id)"
        let clientToken = params.flatMap { try? JSONScanner.parse($0) }?["_meta"]?["progressToken"]
        var sent = params
        if clientToken != nil, let rewritten = Self.replacingProgressToken(in: params, with: .string(key)) {
            sent = rewritten
        }
        calls.withLock { $0[key] = Call(relay: relay, clientToken: clientToken) }
        return (sent, key)
    }

    /// The call ended: requests of the upstream still waiting for its client are withdrawn.
    func unregister(_ key: String) {
        _ = calls.withLock { $0.removeValue(forKey: key) }
        let orphans = asking.withLock { asking in
            let ids = asking.filter { $0.value.call == key }.map(\.key)
            return ids.compactMap { asking.removeValue(forKey: $0)?.task }
        }
        for task in orphans { task.cancel() }
    }

    /// The connection ended: every request still waiting is withdrawn.
    func cancelAll() {
        let tasks = asking.withLock { asking in
            defer { asking = [:] }
            return asking.values.map(\.task)
        }
        for task in tasks { task.cancel() }
    }

    /// Relays a notification or request that belongs to a call in flight; `false` when none
    /// takes it (it is then the connection's own business). A request's answer goes to `answer`.
    func route(_ message: JSONRPCMessage, answer: @escaping @Sendable ([UInt8]) async -> Void) -> Bool {
        switch message.kind {
        case .notification where message.method == "notifications/progress":
            guard let token = ParamsRewriter.stringMember("progressToken", in: message),
                let call = calls.withLock({ $0[token] })
            else { return false }
            guard let clientToken = call.clientToken,
                case .object(var params)? = message.paramsBytes.flatMap({ try? JSONScanner.parse(Array($0)) })
            else { return true }
            params["progressToken"] = clientToken
            let bytes = JSONRPCMessage.notificationBytes(
                method: "notifications/progress",
                params: JSONValue.object(params).serializedBytes
            )
            if let restored = try? JSONRPCMessage(bytes: bytes) { call.relay.notify(restored) }
            return true
        case .notification where message.method == "notifications/cancelled":
            guard let range = message.paramMembers().first(where: { $0.key == "requestId" })?.range,
                let entry = asking.withLock({ $0.removeValue(forKey: JSONRPCID(raw: Array(message.bytes[range]))) })
            else { return false }
            entry.task.cancel()
            return true
        case .notification where message.method == "notifications/message":
            switch sole() {
            case .none: return false
            case .one(let call, _): call.relay.notify(message)
            case .several: break
            }
            return true
        case .request:
            guard let id = message.id else { return false }
            let key: String
            let call: Call
            switch sole() {
            case .none:
                return false
            case .several:
                let refusal = JSONRPCError(
                    code: .methodNotFound,
                    message:
                        "\(message.method ?? "") cannot be put to a client: several calls are in flight on this upstream"
                )
                Task { await answer(UpstreamReply.error(refusal.errorObjectBytes).responseBytes(id: id)) }
                return true
            case .one(let only, let onlyKey):
                call = only
                key = onlyKey
            }
            let method = message.method ?? ""
            let params = message.paramsBytes.map { Array($0) }
            // Registered under the lock it removes itself with, so a quick answer leaves nothing behind.
            asking.withLock { asking in
                asking[id] = (
                    key,
                    Task {
                        let reply = await call.relay.ask(method: method, params: params)
                        self.asking.withLock { _ = $0.removeValue(forKey: id) }
                        guard !Task.isCancelled else { return }
                        await answer(reply.responseBytes(id: id))
                    }
                )
            }
            return true
        default:
            return false
        }
    }

    enum InFlight {
        case none
        case one(Call, key: String)
        case several
    }

    /// The call in flight, when there is exactly one.
    func sole() -> InFlight {
        calls.withLock { calls in
            guard let (key, call) = calls.first else { return .none }
            return calls.count == 1 ? .one(call, key: key) : .several
        }
    }

    /// `params` with `_meta.progressToken` replaced.
    static func replacingProgressToken(in params: [UInt8]?, with token: JSONValue) -> [UInt8]? {
        guard let params, case .object(var object)? = try? JSONScanner.parse(params),
            case .object(var meta)? = object["_meta"]
        else { return nil }
        meta["progressToken"] = token
        object["_meta"] = .object(meta)
        return JSONValue.object(object).serializedBytes
    }
}
