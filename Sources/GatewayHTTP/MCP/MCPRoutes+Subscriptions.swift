import GatewayCore

/// `resources/subscribe` and `resources/unsubscribe` in stateful sessions: the gateway keeps who
/// watches what and holds one upstream subscription per resource; `notifications/resources/updated`
/// reaches the subscribers' GET streams (see ``SessionRuntime/resourceUpdated(gatewayID:uri:notification:)``).
extension MCPRoutes {
    /// Answers a subscribe or unsubscribe of `session` (on the endpoint of `serverID`).
    func subscription(_ message: JSONRPCMessage, session: String, serverID: String?) async -> [UInt8] {
        let id = message.id ?? .null
        func answer(_ error: JSONRPCError) -> [UInt8] { error.answering(id).responseBytes }
        guard let uri = ParamsRewriter.stringMember("uri", in: message) else {
            return answer(.invalidParams("\"uri\" is required and must be a string"))
        }
        guard let target = dispatcher.catalog.snapshot.view(serverID: serverID)?.resourceTarget(for: uri) else {
            return answer(JSONRPCError(code: .resourceNotFound, message: "Resource not found", data: ["uri": .string(uri)]))
        }
        let key = ResourceSubscriptions.Key(gatewayID: target.gatewayID, uri: uri)
        let empty = JSONRPCMessage.responseBytes(id: id, result: Array("{}".utf8))
        if message.method == "resources/unsubscribe" {
            if runtime.subscriptions.remove(key, session: session) { releaseUpstream(key) }
            return empty
        }
        switch runtime.subscriptions.add(key, session: session) {
        case .joined:
            return empty
        case .overLimit:
            return answer(.invalidRequest("this session holds \(runtime.subscriptions.perSessionLimit) subscriptions already"))
        case .first:
            let params: JSONValue = ["uri": .string(uri)]
            let reply: UpstreamReply
            do {
                reply = try await dispatcher.upstream.forward(
                    target, method: "resources/subscribe", params: params.serializedBytes,
                    timeout: dispatcher.upstreamTimeout, relay: nil)
            } catch {
                _ = runtime.subscriptions.remove(key, session: session)
                let detail = (error as? UpstreamError)?.message ?? "no answer"
                return answer(JSONRPCError(code: .upstreamError, message: "Upstream error: \(detail)"))
            }
            if case .error(let bytes) = reply {
                _ = runtime.subscriptions.remove(key, session: session)
                return JSONRPCMessage.errorResponseBytes(id: id, error: bytes)
            }
            return empty
        }
    }

    /// The session ended: its subscriptions go, and upstreams are released where it was the last.
    func endSubscriptions(of session: String) {
        for key in runtime.subscriptions.removeAll(session: session) { releaseUpstream(key) }
    }

    /// Tells the upstream nobody watches the resource any more (in the background; a failure
    /// only means a few needless updates).
    func releaseUpstream(_ key: ResourceSubscriptions.Key) {
        guard let gateway = dispatcher.catalog.snapshot.gatewaysByID[key.gatewayID] else { return }
        let target = gateway.target
        let params: JSONValue = ["uri": .string(key.uri)]
        let upstream = dispatcher.upstream
        Task {
            _ = try? await upstream.forward(
                target, method: "resources/unsubscribe", params: params.serializedBytes, timeout: .seconds(10), relay: nil)
        }
    }
}
