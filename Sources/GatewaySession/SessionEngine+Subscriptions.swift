import GatewayCore

/// `resources/subscribe` and `resources/unsubscribe` in stateful sessions: the gateway keeps who
/// watches what and holds one upstream subscription per resource; `notifications/resources/updated`
/// reaches the subscribers' GET streams (see ``SessionRuntime/resourceUpdated(gatewayID:uri:notification:)``).
extension SessionEngine {
    /// Answers a subscribe or unsubscribe of `session` (on the endpoint of `serverID`).
    package func subscription(_ message: JSONRPCMessage, session: String, serverID: String?) async -> [UInt8] {
        let id = message.id ?? .null
        guard let uri = ParamsRewriter.stringMember("uri", in: message) else {
            return JSONRPCError.invalidParams("\"uri\" is required and must be a string", id: id).responseBytes
        }
        if message.method == "resources/unsubscribe" {
            unsubscribe(uri: uri, session: session, serverID: serverID)
        } else if let failure = await subscribe(uri: uri, session: session, serverID: serverID) {
            return failure.answering(id).responseBytes
        }
        return JSONRPCMessage.responseBytes(id: id, result: Array("{}".utf8))
    }

    /// Subscribes `session` to `uri`: the upstream is asked when nobody else watches it.
    package func subscribe(uri: String, session: String, serverID: String?) async -> JSONRPCError? {
        guard let target = dispatcher.catalog.snapshot.view(serverID: serverID)?.resourceTarget(for: uri) else {
            return JSONRPCError(code: .resourceNotFound, message: "Resource not found", data: ["uri": .string(uri)])
        }
        let key = ResourceSubscriptions.Key(gatewayID: target.gatewayID, uri: uri)
        switch runtime.subscriptions.add(key, session: session) {
        case .joined:
            return nil
        case .overLimit:
            return .invalidRequest("this session holds \(runtime.subscriptions.perSessionLimit) subscriptions already")
        case .first:
            let params: JSONValue = ["uri": .string(uri)]
            do {
                let reply = try await dispatcher.upstream.forward(
                    target,
                    method: "resources/subscribe",
                    params: params.serializedBytes,
                    timeout: dispatcher.upstreamTimeout,
                    relay: nil
                )
                guard case .error(let bytes) = reply else { return nil }
                _ = runtime.subscriptions.remove(key, session: session)
                let upstream = try? JSONScanner.parse(bytes)
                return JSONRPCError(
                    code: JSONRPCError.Code(Int(upstream?["code"]?.intValue ?? -32603)),
                    message: upstream?["message"]?.stringValue ?? "The upstream refused the subscription"
                )
            } catch {
                _ = runtime.subscriptions.remove(key, session: session)
                let detail = (error as? UpstreamError)?.message ?? "no answer"
                return JSONRPCError(code: .upstreamError, message: "Upstream error: \(detail)")
            }
        }
    }

    package func unsubscribe(uri: String, session: String, serverID: String?) {
        guard let target = dispatcher.catalog.snapshot.view(serverID: serverID)?.resourceTarget(for: uri) else {
            return
        }
        let key = ResourceSubscriptions.Key(gatewayID: target.gatewayID, uri: uri)
        if runtime.subscriptions.remove(key, session: session) { releaseUpstream(key) }
    }

    /// The session ended: its subscriptions go, and upstreams are released where it was the last.
    package func endSubscriptions(of session: String) {
        for key in runtime.subscriptions.removeAll(session: session) { releaseUpstream(key) }
    }

    /// Ends the subscriptions of stateful sessions whose TTL has passed (they were never
    /// deleted: the client just went away), releasing upstreams nobody watches now. Called on an
    /// interval by the application.
    public func endExpiredSubscriptions(now: Timestamp = .now()) {
        for key in runtime.subscriptions.removeExpired(now: now.millisecondsSince1970) { releaseUpstream(key) }
    }

    /// Tells the upstream nobody watches the resource any more: queued for
    /// ``releaseUpstreams()`` (a failure only means a few needless updates).
    package func releaseUpstream(_ key: ResourceSubscriptions.Key) {
        runtime.upstreamReleases.enqueue(key)
    }

    /// Sends the queued `resources/unsubscribe`s until cancelled, up to 16 at once (one slow
    /// upstream does not hold up the others). A resource someone subscribed to again meanwhile
    /// is not released: its subscriber counts on the upstream subscription. Run by a service of
    /// the application.
    public func releaseUpstreams() async {
        for await _ in runtime.upstreamReleases.wakeUps {
            // A resource released twice while queued is released once.
            var seen = Set<ResourceSubscriptions.Key>()
            let batch = runtime.upstreamReleases.take().filter { seen.insert($0).inserted }
            for start in stride(from: 0, to: batch.count, by: 16) {
                guard !Task.isCancelled else { return }
                await withDiscardingTaskGroup { group in
                    for key in batch[start..<min(start + 16, batch.count)] {
                        group.addTask { await release(key) }
                    }
                }
            }
        }
    }

    /// Sends one `resources/unsubscribe`, unless the resource has subscribers again.
    func release(_ key: ResourceSubscriptions.Key) async {
        guard runtime.subscriptions.sessions(for: key).isEmpty,
            let gateway = dispatcher.catalog.snapshot.gatewaysByID[key.gatewayID]
        else { return }
        let params: JSONValue = ["uri": .string(key.uri)]
        _ = try? await dispatcher.upstream.forward(
            gateway.target,
            method: "resources/unsubscribe",
            params: params.serializedBytes,
            timeout: .seconds(10),
            relay: nil
        )
    }
}
