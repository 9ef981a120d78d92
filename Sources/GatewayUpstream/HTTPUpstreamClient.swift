import AsyncHTTPClient
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Tracing

/// The upstream client for streamable HTTP and legacy SSE upstreams: kept-alive connections, one
/// upstream session per gateway, one upstream request per forwarded call. Plain-HTTP POSTs and
/// everything of legacy SSE upstreams (http or https) go through ``HTTP1ConnectionPool``, which
/// connects to the address the SSRF guard checked; `https` streamable HTTP POSTs and standalone
/// GET streams through AsyncHTTPClient.
///
/// It is a `Service`: `run()` hosts the readers of legacy SSE streams and shuts the HTTP client
/// down when the service group stops.
public final class HTTPUpstreamClient: UpstreamClient, Service {
    /// Tuning knobs.
    public struct Options: Sendable {
        /// Largest upstream response accepted, in bytes.
        public var maximumResponseBytes: Int = 16 << 20
        /// Kept-alive connections per upstream host.
        public var connectionsPerHost: Int = 64
        /// How long an idle pooled connection is kept.
        public var idleTimeout: Duration = .seconds(60)
        /// Timeout for establishing a TCP connection.
        public var connectTimeout: Duration = .seconds(10)
        /// Longest list pagination followed during discovery.
        public var maximumDiscoveryPages: Int = 100
        /// Most items of one kind accepted from one upstream.
        public var maximumDiscoveredItems: Int = 5000
        /// Whether a new streamable HTTP upstream is asked `server/discover` (2026-07-28) before
        /// `initialize` (UPSTREAM_PREFERRED_PROTOCOL_VERSION=2026-07-28); by default `initialize`
        /// comes first and `server/discover` only when it is refused.
        public var prefersStateless = false
        /// Most rounds of `input_required` a 2026-07-28 upstream may ask of one call when the gateway
        /// answers them for a client of an earlier version (INPUT_REQUIRED_MAX_ROUNDS).
        public var maximumInputRounds: Int = 10
        /// `clientInfo` sent at initialize.
        public var clientName: String = "mcp-gateway-swift"
        public var clientVersion: String = "0.1.0"
        /// Which addresses upstreams may have (the SSRF guard); by default public ones only.
        public var networkPolicy = NetworkPolicy()
        /// What stdio upstreams inherit of the gateway's environment (before their registered
        /// `env`); by default nothing (see ``ChildEnvironment``).
        public var stdioInheritedEnvironment: [String: String] = [:]

        public init() {}
    }

    let http: HTTPClient
    let options: Options
    var addressGuard: UpstreamAddressGuard { UpstreamAddressGuard(policy: options.networkPolicy) }
    /// When each URL's host last passed the SSRF guard, for requests through AsyncHTTPClient.
    let guardedURLs = Mutex<[String: ContinuousClock.Instant]>([:])
    let logger: Logger
    let sessions = UpstreamSessionTable()
    let pool: HTTP1ConnectionPool
    let endpoints = Mutex<[String: (HTTP1Endpoint, String)?]>([:])
    let nextID = Atomic<Int>(1)
    let readerJobs: AsyncStream<@Sendable () async -> Void>
    let readerJobsContinuation: AsyncStream<@Sendable () async -> Void>.Continuation
    public let events: AsyncStream<UpstreamEvent>
    let eventsContinuation: AsyncStream<UpstreamEvent>.Continuation
    /// Stdio upstreams, by gateway.
    let processes = Mutex<[String: StdioUpstream]>([:])
    /// Resource URIs clients subscribed to, per gateway, subscribed again on a new session.
    let subscriptions = Mutex<[String: Set<String>]>([:])
    /// The `subscriptions/listen` stream of each 2026-07-28 upstream (opened again when the
    /// resources clients subscribed to change).
    let statelessListeners = Mutex<[String: SSEUpstreamConnection]>([:])
    /// The protocol version of each upstream's last session, to notice an upstream changing era.
    let eras = Mutex<[String: String]>([:])
    /// The `_meta` members sent with every request to a 2026-07-28 upstream: for no client
    /// capability, then by ``ClientCapabilities/rawValue`` (0 to 7).
    let statelessEnvelopes: [[UInt8]]
    var statelessEnvelope: [UInt8] { statelessEnvelopes[0] }

    public init(options: Options = Options(), logger: Logger) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.timeout.connect = TimeAmount(options.connectTimeout)
        configuration.connectionPool = .init(
            idleTimeout: TimeAmount(options.idleTimeout),
            concurrentHTTP1ConnectionsPerHostSoftLimit: options.connectionsPerHost
        )
        // A refused connection fails the call at once instead of retrying until the deadline:
        // the client sees a clear upstream error and decides itself whether to retry.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.pool = HTTP1ConnectionPool(
            options: .init(
                maximumConnectionsPerEndpoint: options.connectionsPerHost,
                idleTimeout: .seconds(4),
                connectTimeout: TimeAmount(options.connectTimeout),
                maximumResponseBytes: options.maximumResponseBytes,
                addressGuard: UpstreamAddressGuard(policy: options.networkPolicy)
            )
        )
        self.options = options
        self.logger = logger
        self.statelessEnvelopes = (0..<8).map {
            Self.envelope(
                clientName: options.clientName,
                clientVersion: options.clientVersion,
                capabilities: ClientCapabilities(rawValue: $0)
            )
        }
        (self.readerJobs, self.readerJobsContinuation) = AsyncStream.makeStream(
            of: (@Sendable () async -> Void).self,
            bufferingPolicy: .unbounded
        )
        // Bounded: if nobody keeps up, the oldest notifications go (list changes are idempotent).
        (self.events, self.eventsContinuation) = AsyncStream.makeStream(
            of: UpstreamEvent.self,
            bufferingPolicy: .bufferingNewest(4096)
        )
    }

    /// Releases the HTTP clients when the service never ran (start-up failed after creating it).
    public func shutdownUnstarted() async {
        readerJobsContinuation.finish()
        pool.shutdown()
        try? await http.shutdown()
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await job in self.readerJobs.cancelOnGracefulShutdown() {
                group.addTask { await job() }
            }
            // Shutting down: end the upstream sessions and processes first, which ends the
            // readers waiting on them (a reader waits for its session to close, not for
            // cancellation), then cancel what is left.
            closeSessionsAndProcesses()
            group.cancelAll()
        }
        pool.shutdown()
        try await http.shutdown()
    }

    private func closeSessionsAndProcesses() {
        for session in sessions.removeAll() {
            session.close(UpstreamError(.unreachable, "gateway shutting down"))
        }
        for listener in statelessListeners.withLock({ listeners in
            defer { listeners = [:] }
            return Array(listeners.values)
        }) {
            listener.close(UpstreamError(.unreachable, "gateway shutting down"))
        }
        for process in processes.withLock({ processes in
            defer { processes = [:] }
            return Array(processes.values)
        }) {
            process.close()
        }
    }

    // MARK: - UpstreamClient

    public func discover(_ target: UpstreamTarget, timeout: Duration) async throws -> DiscoveredCatalog {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let handshake: (capabilities: JSONValue, protocolVersion: String, serverInfo: JSONValue)
        if target.transport == .stdio {
            let ready = try await stdioHandshake(target, deadline: deadline)
            handshake = (ready.capabilities, ready.protocolVersion, ready.serverInfo)
        } else {
            let session = try await session(for: target, deadline: deadline)
            handshake = (session.capabilities, session.protocolVersion, session.serverInfo)
        }
        let capabilities = handshake.capabilities
        func listAll(_ method: String, _ key: String) async throws -> [JSONObject] {
            var items: [JSONObject] = []
            var cursor: String?
            for _ in 0..<options.maximumDiscoveryPages {
                var params = JSONObject()
                if let cursor { params["cursor"] = .string(cursor) }
                let reply = try await send(
                    target,
                    method: method,
                    params: JSONValue.object(params).serializedBytes,
                    deadline: deadline
                )
                guard case .result(let bytes) = reply else {
                    throw UpstreamError(.protocolViolation, "\(method) returned an error")
                }
                let result: JSONValue
                do { result = try JSONScanner.parse(bytes) } catch {
                    throw UpstreamError(.protocolViolation, "\(method) returned invalid JSON")
                }
                for item in result[key]?.arrayValue ?? [] {
                    if case .object(let object) = item { items.append(object) }
                }
                guard items.count <= options.maximumDiscoveredItems else {
                    throw UpstreamError(.tooLarge, "\(method) lists more than \(options.maximumDiscoveredItems) items")
                }
                guard let next = result["nextCursor"]?.stringValue, !next.isEmpty, next != cursor else { return items }
                cursor = next
            }
            throw UpstreamError(.protocolViolation, "\(method) did not stop paginating")
        }
        let tools = capabilities["tools"] != nil ? try await listAll("tools/list", "tools") : []
        let hasResources = capabilities["resources"] != nil
        let resources = hasResources ? try await listAll("resources/list", "resources") : []
        let templates = hasResources ? try await listAll("resources/templates/list", "resourceTemplates") : []
        let prompts = capabilities["prompts"] != nil ? try await listAll("prompts/list", "prompts") : []
        return DiscoveredCatalog(
            tools: tools,
            resources: resources,
            resourceTemplates: templates,
            prompts: prompts,
            capabilities: capabilities,
            protocolVersion: handshake.protocolVersion,
            serverInfo: handshake.serverInfo
        )
    }

    public func forward(
        _ target: UpstreamTarget,
        method: String,
        params: [UInt8]?,
        timeout: Duration,
        relay: (any UpstreamCallRelay)?
    ) async throws -> UpstreamReply {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let reply: UpstreamReply
        if InstrumentationContext.current != nil {
            // Within a client's trace: a client span, which the upstream's `traceparent` names as
            // the parent.
            reply = try await withSpan("MCP \(method)", ofKind: .client) { _ in
                try await send(target, method: method, params: params, deadline: deadline, relay: relay)
            }
        } else {
            reply = try await send(target, method: method, params: params, deadline: deadline, relay: relay)
        }
        if case .result = reply, method == "resources/subscribe" || method == "resources/unsubscribe" {
            remember(method, params: params, gatewayID: target.gatewayID)
        }
        return reply
    }

    public func release(gatewayID: String) async {
        releaseProcess(gatewayID: gatewayID)
        _ = eras.withLock { $0.removeValue(forKey: gatewayID) }
        statelessListeners.withLock { $0.removeValue(forKey: gatewayID) }?.close(
            UpstreamError(.unreachable, "session released")
        )
        guard let session = sessions.remove(gatewayID: gatewayID) else { return }
        session.close(UpstreamError(.unreachable, "session released"))
    }

    // MARK: - Sessions

    func session(for target: UpstreamTarget, deadline: NIODeadline) async throws -> UpstreamSession {
        try await sessions.session(for: target.gatewayID) { generation in
            var session = try await self.initialize(target, generation: generation, deadline: deadline)
            self.noteEra(of: target.gatewayID, session.protocolVersion)
            if session.protocolVersion == ProtocolVersions.stateless {
                // Its resource subscriptions are part of the listen request.
                self.listenStateless(target, session: session)
                return session
            }
            if session.sseConnection == nil, session.sessionID != nil {
                session.listener = self.listen(target, session: session)
            }
            self.resubscribe(target)
            return session
        }
    }

    /// Sends a request in the gateway's upstream session, re-initializing once when the upstream
    /// has forgotten the session (404) or the SSE stream dropped.
    func send(
        _ target: UpstreamTarget,
        method: String,
        params: [UInt8]?,
        deadline: NIODeadline,
        relay: (any UpstreamCallRelay)? = nil
    ) async throws -> UpstreamReply {
        if target.transport == .stdio {
            return try await stdioSend(target, method: method, params: params, deadline: deadline, relay: relay)
        }
        // The session (initialize, its GET stream) is shared by every client: no client's headers.
        var sessionTarget = target
        sessionTarget.forwardedHeaders = []
        var session = try await session(for: sessionTarget, deadline: deadline)
        if session.protocolVersion == ProtocolVersions.stateless,
            method == "resources/subscribe" || method == "resources/unsubscribe"
        {
            // 2026-07-28 has no resources/subscribe: the URI joins (or leaves) the listen request.
            remember(method, params: params, gatewayID: target.gatewayID)
            listenStateless(sessionTarget, session: session)
            return .result(Array("{}".utf8))
        }
        for attempt in 0..<2 {
            do {
                let message = try await exchange(
                    target,
                    session: session,
                    method: method,
                    params: params,
                    deadline: deadline,
                    relay: relay
                )
                let reply = Self.reply(from: message)
                guard session.protocolVersion == ProtocolVersions.stateless else { return reply }
                // The upstream no longer takes 2026-07-28 requests: probe it again.
                if case .error(let error) = reply, Self.errorCode(error) == Self.unsupportedVersionCode {
                    throw SessionExpired()
                }
                return try await settleInputRequired(
                    reply,
                    target,
                    session: session,
                    method: method,
                    params: params,
                    deadline: deadline,
                    relay: relay
                )
            } catch is SessionExpired where attempt == 0 {
                if let stale = sessions.invalidate(gatewayID: target.gatewayID, generation: session.generation) {
                    stale.close(UpstreamError(.unreachable, "session expired"))
                }
                logger.info(
                    "upstream session expired; re-initializing",
                    metadata: ["upstream.id": .string(target.gatewayID)]
                )
                session = try await self.session(for: sessionTarget, deadline: deadline)
            }
        }
        throw UpstreamError(.protocolViolation, "upstream keeps rejecting its session")
    }

    static func reply(from message: JSONRPCMessage) -> UpstreamReply {
        if let error = message.errorBytes { return .error(Array(error)) }
        return .result(Array(message.resultBytes ?? []))
    }

    struct SessionExpired: Error {}

    func makeID() -> JSONRPCID {
        JSONRPCID(nextID.wrappingAdd(1, ordering: .relaxed).oldValue)
    }

    /// One request in the upstream session. When the calling task is cancelled or the deadline
    /// passes, the upstream is told to stop (`notifications/cancelled`) so it does not work on.
    func exchange(
        _ target: UpstreamTarget,
        session: UpstreamSession,
        method: String,
        params: [UInt8]?,
        deadline: NIODeadline,
        relay: (any UpstreamCallRelay)?
    ) async throws -> JSONRPCMessage {
        let id = makeID()
        let stateless = session.protocolVersion == ProtocolVersions.stateless
        let body = JSONRPCMessage.requestBytes(
            id: id,
            method: method,
            params: stateless ? Self.params(params, envelope: statelessEnvelope(for: relay)) : params
        )
        do {
            if let connection = session.sseConnection {
                if connection.isClosed { throw SessionExpired() }
                guard let relay else {
                    return try await sseExchange(target, connection: connection, id: id, body: body, deadline: deadline)
                }
                let registered = connection.relays.register(relay, id: id, params: params)
                defer { connection.relays.unregister(registered.key) }
                let relayed = JSONRPCMessage.requestBytes(id: id, method: method, params: registered.params)
                return try await sseExchange(target, connection: connection, id: id, body: relayed, deadline: deadline)
            }
            let reader = CallStreamReader(expecting: id, relay: relay) { request, reply in
                let answer = reply.responseBytes(id: request)
                _ = try? await self.postMessage(target, session: session, body: answer, deadline: deadline)
            }
            defer { reader.finish() }
            return try await postForSession(
                target,
                session: session,
                body: body,
                expecting: id,
                deadline: deadline,
                reader: reader,
                routing: stateless ? Self.routing(method: method, params: params) : nil
            ).0
        } catch let error as UpstreamError where stateless {
            // 2026-07-28: the request's connection closing is the cancellation.
            throw error
        } catch is CancellationError where stateless {
            throw CancellationError()
        } catch let error as UpstreamError where error.code == .timeout || Task.isCancelled {
            cancelUpstream(
                target,
                session: session,
                requestID: id,
                reason: Task.isCancelled ? "cancelled by the client" : "timed out"
            )
            throw error
        } catch is CancellationError {
            cancelUpstream(target, session: session, requestID: id, reason: "cancelled by the client")
            throw CancellationError()
        }
    }

    func initialize(_ target: UpstreamTarget, generation: Int, deadline: NIODeadline) async throws -> UpstreamSession {
        if options.prefersStateless, target.transport != .sse,
            let session = try? await discoverStateless(target, generation: generation, deadline: deadline)
        {
            return session
        }
        // The gateway can put an upstream's sampling, elicitation and roots requests to the client
        // of the call that caused them; a client that cannot answer gets the upstream an error.
        let params: JSONValue = [
            "protocolVersion": .string(ProtocolVersions.latestStateful),
            "capabilities": ["sampling": [:], "elicitation": [:], "roots": ["listChanged": false]],
            "clientInfo": ["name": .string(options.clientName), "version": .string(options.clientVersion)],
        ]
        let id = makeID()
        let body = JSONRPCMessage.requestBytes(id: id, method: "initialize", params: params.serializedBytes)
        var session = UpstreamSession(
            sessionID: nil,
            protocolVersion: ProtocolVersions.latestStateful,
            capabilities: [:],
            serverInfo: [:],
            sseConnection: nil,
            listener: nil,
            generation: generation
        )
        let message: JSONRPCMessage
        var sessionID: String?
        if target.transport == .sse {
            let connection = try await openSSE(target, deadline: deadline)
            session.sseConnection = connection
            do {
                message = try await sseExchange(target, connection: connection, id: id, body: body, deadline: deadline)
            } catch {
                connection.close(UpstreamError(.unreachable, "initialize failed"))
                throw error
            }
        } else {
            do {
                (message, sessionID) = try await postForSession(
                    target,
                    session: session,
                    body: body,
                    expecting: id,
                    deadline: deadline
                )
            } catch let error as UpstreamError where [400, 404, 405].contains(error.status) {
                // Refused as a method or version it does not know: perhaps 2026-07-28 only.
                return try await discoverStateless(target, generation: generation, deadline: deadline)
            }
            // Refused: perhaps an upstream that speaks only 2026-07-28.
            if message.resultBytes == nil {
                return try await discoverStateless(target, generation: generation, deadline: deadline)
            }
        }
        guard let resultBytes = message.resultBytes, let result = try? JSONScanner.parse(Array(resultBytes)) else {
            session.sseConnection?.close(UpstreamError(.protocolViolation, "initialize refused"))
            throw UpstreamError(.protocolViolation, "the upstream refused initialize")
        }
        session.sessionID = sessionID
        session.protocolVersion = result["protocolVersion"]?.stringValue ?? ProtocolVersions.latestStateful
        session.capabilities = result["capabilities"] ?? [:]
        session.serverInfo = result["serverInfo"] ?? [:]
        let initialized = Array(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8)
        if let connection = session.sseConnection {
            try await ssePost(target, connection: connection, body: initialized, deadline: deadline)
        } else {
            _ = try await postMessage(target, session: session, body: initialized, deadline: deadline)
        }
        logger.debug(
            "upstream session initialized",
            metadata: ["upstream.id": .string(target.gatewayID), "upstream.protocol": .string(session.protocolVersion)]
        )
        return session
    }

    // MARK: - Streamable HTTP

    func headers(_ target: UpstreamTarget, session: UpstreamSession, routing: Routing? = nil) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: "application/json, text/event-stream")
        if let sessionID = session.sessionID { headers.add(name: "mcp-session-id", value: sessionID) }
        headers.add(name: "mcp-protocol-version", value: session.protocolVersion)
        if let routing {
            headers.add(name: "mcp-method", value: routing.method)
            if let name = routing.name { headers.add(name: "mcp-name", value: Self.headerValue(name)) }
        }
        for header in target.auth.headers { headers.add(name: header.name, value: header.value) }
        for header in target.forwardedHeaders { headers.add(name: header.name, value: header.value) }
        headers.addTraceContext()
        return headers
    }

    /// POSTs one message and returns the whole response: over the pooled client for `http://`
    /// upstreams, over AsyncHTTPClient (TLS) otherwise.
    func postMessage(
        _ target: UpstreamTarget,
        session: UpstreamSession,
        body: [UInt8],
        deadline: NIODeadline,
        eventSink: (@Sendable ([UInt8]) -> Bool)? = nil,
        routing: Routing? = nil
    ) async throws -> UpstreamHTTPResponse {
        let headers = headers(target, session: session, routing: routing)
        if let (endpoint, path) = endpoint(of: target.url), !endpoint.tls {
            return try await pool.post(
                endpoint,
                path: path,
                headers: headers,
                body: body,
                deadline: deadline,
                eventSink: eventSink
            )
        }
        try await checkAddress(of: target.url)
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: deadline, logger: logger)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw UpstreamError(.timeout, "no answer before the deadline")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw UpstreamError(.unreachable, "cannot connect")
        }
        let limit = options.maximumResponseBytes
        if let eventSink, response.status == .ok,
            response.headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true
        {
            let final = try await withDeadline(deadline) {
                try await Self.readEvents(of: response.body, limit: limit, sink: eventSink)
            }
            return UpstreamHTTPResponse(
                status: Int(response.status.code),
                headers: response.headers,
                body: final,
                streamedEvents: true
            )
        }
        let collected = try await withDeadline(deadline) {
            do {
                return try await response.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                throw UpstreamError(.tooLarge, "the upstream response exceeds \(limit) bytes")
            } catch let error as UpstreamError {
                throw error
            } catch {
                throw UpstreamError(.unreachable, "the connection closed")
            }
        }
        return UpstreamHTTPResponse(status: Int(response.status.code), headers: response.headers, body: collected)
    }

    /// The SSRF guard for requests made through AsyncHTTPClient (`https` streamable HTTP POSTs,
    /// standalone GET streams), which resolves names itself: the host is re-checked when its last
    /// check is over 5 s old.
    func checkAddress(of url: String) async throws {
        let now = ContinuousClock.now
        if let last = guardedURLs.withLock({ $0[url] }), now - last < .seconds(5) { return }
        try await addressGuard.check(url: url)
        guardedURLs.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[url] = now
        }
    }

    /// Endpoint and path of an `http` or `https` URL (cached), or `nil` for anything else.
    func endpoint(of url: String) -> (HTTP1Endpoint, String)? {
        if let cached = endpoints.withLock({ $0[url] }) { return cached }
        let parsed = HTTP1Endpoint.parse(url)
        endpoints.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[url] = parsed
        }
        return parsed
    }

    func postForSession(
        _ target: UpstreamTarget,
        session: UpstreamSession,
        body: [UInt8],
        expecting id: JSONRPCID,
        deadline: NIODeadline,
        reader: CallStreamReader? = nil,
        routing: Routing? = nil
    ) async throws -> (JSONRPCMessage, String?) {
        let response = try await postMessage(
            target,
            session: session,
            body: body,
            deadline: deadline,
            eventSink: reader.map { reader in reader.accept },
            routing: routing
        )
        let sessionID = response.headers.first(name: "mcp-session-id")
        let bytes = Array(response.body.readableBytesView)
        switch response.status {
        case 200:
            break
        case 404 where session.sessionID != nil:
            throw SessionExpired()
        default:
            // An error status may still carry the upstream's JSON-RPC error; that is its answer.
            if response.contentType.hasPrefix("application/json"), let message = try? JSONRPCMessage(bytes: bytes),
                message.kind == .errorResponse, message.id == id || message.id == nil
            {
                return (message, sessionID)
            }
            throw UpstreamError(.httpStatus, "HTTP \(response.status) from the upstream", status: response.status)
        }
        if response.streamedEvents {
            guard !bytes.isEmpty, let message = try? JSONRPCMessage(bytes: bytes) else {
                throw UpstreamError(.protocolViolation, "the upstream closed the stream without answering")
            }
            return (message, sessionID)
        }
        if response.contentType.hasPrefix("text/event-stream") {
            return (try sseResponse(bytes, expecting: id), sessionID)
        }
        let message: JSONRPCMessage
        do { message = try JSONRPCMessage(bytes: bytes) } catch {
            throw UpstreamError(.protocolViolation, "the upstream answered with invalid JSON-RPC")
        }
        guard message.id == id else { throw UpstreamError(.protocolViolation, "the upstream answered another request") }
        return (message, sessionID)
    }

    /// Finds the response to `id` in an SSE response body (the upstream closes the stream after
    /// it). Notifications and requests the upstream sent before it are skipped for now (relayed
    /// in a later version).
    func sseResponse(_ bytes: [UInt8], expecting id: JSONRPCID) throws -> JSONRPCMessage {
        var parser = SSEParser(maximumEventSize: options.maximumResponseBytes)
        var events = (try? parser.feed(bytes)) ?? []
        events += (try? parser.feed(Array("\n\n".utf8))) ?? []
        for event in events where event.event == "message" && !event.data.isEmpty {
            guard let message = try? JSONRPCMessage(bytes: event.data) else { continue }
            if message.kind == .response || message.kind == .errorResponse, message.id == id { return message }
        }
        throw UpstreamError(.protocolViolation, "the upstream closed the stream without answering")
    }
}
