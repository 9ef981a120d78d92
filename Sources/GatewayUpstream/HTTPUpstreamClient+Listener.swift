import AsyncHTTPClient
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// What upstreams send outside calls: the standalone GET stream of streamable HTTP sessions, the
/// non-response messages of legacy SSE streams, and the resource subscriptions kept across
/// sessions.
extension HTTPUpstreamClient {
    /// Opens the session's standalone GET stream in a reader job and keeps it open: reconnects
    /// with backoff when it drops, and when the upstream has forgotten the session (404) starts a
    /// new session (which listens in turn). An upstream that offers no stream (405) is left alone.
    func listen(_ target: UpstreamTarget, session: UpstreamSession) -> SSEUpstreamConnection {
        let handle = SSEUpstreamConnection()
        var request = HTTPClientRequest(url: target.url)
        request.method = .GET
        request.headers = headers(target, session: session)
        request.headers.remove(name: "content-type")
        request.headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        let streamRequest = request
        readerJobsContinuation.yield { [weak self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await self?.readListener(streamRequest, target: target, session: session, handle: handle)
                }
                group.addTask { await handle.closed() }
                await group.next()
                group.cancelAll()
            }
        }
        return handle
    }

    /// For an upstream that speaks only 2026-07-28: a `subscriptions/listen` request for its list
    /// changes and for updates of the resources clients subscribed to (at most 1,000), kept open
    /// like the GET stream of a session (the acknowledgment, changes and updates come as
    /// notifications on its answer stream). Replaces the upstream's previous listen stream.
    func listenStateless(_ target: UpstreamTarget, session: UpstreamSession) {
        let handle = SSEUpstreamConnection()
        let uris = subscriptions.withLock { $0[target.gatewayID] ?? [] }.sorted().prefix(1000)
        var notifications = JSONObject([
            ("toolsListChanged", true), ("promptsListChanged", true), ("resourcesListChanged", true),
        ])
        if !uris.isEmpty { notifications["resourceSubscriptions"] = .array(uris.map { .string($0) }) }
        let params = Self.params(
            Array(#"{"notifications":"#.utf8) + JSONValue.object(notifications).serializedBytes + Array("}".utf8),
            envelope: statelessEnvelope
        )
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers = headers(target, session: session, routing: Routing(method: "subscriptions/listen"))
        request.body = .bytes(
            ByteBuffer(bytes: JSONRPCMessage.requestBytes(id: makeID(), method: "subscriptions/listen", params: params))
        )
        let streamRequest = request
        statelessListeners.withLock { $0.updateValue(handle, forKey: target.gatewayID) }?.close(
            UpstreamError(.unreachable, "listening again")
        )
        readerJobsContinuation.yield { [weak self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await self?.readListener(streamRequest, target: target, session: session, handle: handle)
                }
                group.addTask { await handle.closed() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    func readListener(
        _ request: HTTPClientRequest,
        target: UpstreamTarget,
        session: UpstreamSession,
        handle: SSEUpstreamConnection
    ) async {
        var backoff = Duration.seconds(1)
        while !handle.isClosed, !Task.isCancelled {
            do {
                try await checkAddress(of: target.url)
                let response = try await http.execute(request, deadline: .now() + .seconds(30), logger: logger)
                switch response.status.code {
                case 200:
                    backoff = .seconds(1)
                    var parser = SSEParser(maximumEventSize: options.maximumResponseBytes)
                    for try await chunk in response.body {
                        for event in try parser.feed(chunk.readableBytesView) where event.event == "message" {
                            guard let message = try? JSONRPCMessage(bytes: event.data) else { continue }
                            standalone(message, gatewayID: target.gatewayID) { body in
                                _ = try await self.postMessage(
                                    target,
                                    session: session,
                                    body: body,
                                    deadline: .now() + .seconds(10)
                                )
                            }
                        }
                    }
                case 404:
                    // The upstream forgot the session (restarted): start a new one, which listens.
                    if let stale = sessions.invalidate(gatewayID: target.gatewayID, generation: session.generation) {
                        stale.close(UpstreamError(.unreachable, "session expired"))
                        _ = try? await self.session(for: target, deadline: .now() + .seconds(30))
                    }
                    return
                default:
                    logger.debug(
                        "upstream offers no standalone stream",
                        metadata: [
                            "upstream.id": .string(target.gatewayID),
                            "http.status": .stringConvertible(response.status.code),
                        ]
                    )
                    return
                }
            } catch {
                logger.debug("upstream stream dropped", metadata: ["upstream.id": .string(target.gatewayID)])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(30))
        }
    }

    /// A message an upstream sent outside any call: notifications go to ``events``;
    /// requests are answered here (`ping`; anything else has no client to ask).
    func standalone(
        _ message: JSONRPCMessage,
        gatewayID: String,
        answer: @escaping @Sendable ([UInt8]) async throws -> Void
    ) {
        switch message.kind {
        case .notification:
            eventsContinuation.yield(.notification(gatewayID: gatewayID, message: message))
        case .request:
            guard let id = message.id else { return }
            let reply = UpstreamReply.outsideCall(message.method)
            let logger = logger
            readerJobsContinuation.yield {
                do { try await answer(reply.responseBytes(id: id)) } catch {
                    logger.debug("could not answer an upstream request", metadata: ["upstream.id": .string(gatewayID)])
                }
            }
        case .response, .errorResponse:
            return
        }
    }

    /// Keeps track of the resource subscriptions forwarded to a gateway.
    func remember(_ method: String, params: [UInt8]?, gatewayID: String) {
        guard let params, let uri = (try? JSONScanner.parse(params))?["uri"]?.stringValue else { return }
        subscriptions.withLock { subscriptions in
            if method == "resources/subscribe" {
                subscriptions[gatewayID, default: []].insert(uri)
            } else {
                subscriptions[gatewayID]?.remove(uri)
            }
        }
    }

    /// Subscribes a new session to what clients had subscribed to through the previous one.
    func resubscribe(_ target: UpstreamTarget) {
        let uris = subscriptions.withLock { $0[target.gatewayID] ?? [] }
        guard !uris.isEmpty else { return }
        // A job of the client's own service (cancelled when it stops), not a stray task.
        readerJobsContinuation.yield { [self] in
            for uri in uris {
                let params: JSONValue = ["uri": .string(uri)]
                _ = try? await send(
                    target,
                    method: "resources/subscribe",
                    params: params.serializedBytes,
                    deadline: .now() + .seconds(30)
                )
            }
        }
    }
}

extension UpstreamReply {
    /// The answer to a request an upstream sends outside any call: `ping` is answered, anything
    /// else has no client to ask.
    static func outsideCall(_ method: String?) -> UpstreamReply {
        guard method != "ping" else { return .result(Array("{}".utf8)) }
        return .error(
            JSONRPCError(code: .methodNotFound, message: "\(method ?? "") has no client to ask outside a call")
                .errorObjectBytes
        )
    }
}
