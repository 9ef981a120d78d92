import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// `mcpgateway translate --stdio CMD`: serves an MCP stdio server over HTTP, as streamable HTTP
/// at `/mcp` (handshake era: initialize, `Mcp-Session-Id`, GET stream, DELETE) and legacy SSE at
/// `/sse` + `/message`. Each client session runs its own process, so sessions never share an
/// MCP server's state; the process ends with the session.
public struct StdioBridgeServer: Sendable {
    public struct Options: Sendable {
        public var commandLine: String
        public var host = "127.0.0.1"
        public var port = 9000
        public var exposeSSE = true
        public var exposeStreamableHTTP = true
        /// Required as a bearer token when set (and required to listen beyond loopback).
        public var authToken: String?
        public var maximumSessions = 64
        public var keepAlive: Duration = .seconds(15)
        public var maximumBodyBytes = 4 << 20

        /// The environment the process gets (by default nothing of the bridge's own; see
        /// ``ChildEnvironment``).
        public var environment: [String: String] = [:]

        public init(commandLine: String) { self.commandLine = commandLine }
    }

    let options: Options
    let logger: Logger
    let sessions = SessionTable()
    let keepAlive: StreamKeepAlive

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
        self.keepAlive = StreamKeepAlive(interval: options.keepAlive)
    }

    static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!
    static let versionHeader = HTTPField.Name("MCP-Protocol-Version")!

    /// Serves until the process is told to stop (SIGTERM/SIGINT); every session's process ends.
    public func run() async throws {
        let router = Router()
        if let token = options.authToken { router.add(middleware: BearerTokenCheck(token: token)) }
        router.get("healthz") { _, _ in "ok" }
        if options.exposeStreamableHTTP {
            router.post("mcp") { request, context in await post(request, logger: context.logger) }
            router.get("mcp") { request, _ in get(request) }
            router.delete("mcp") { request, _ in delete(request) }
        }
        if options.exposeSSE {
            router.get("sse") { _, _ in openSSE() }
            router.post("message") { request, _ in await postSSEMessage(request) }
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            services: [keepAlive],
            logger: logger
        )
        defer { sessions.endAll() }
        try await app.runService()
    }

    // MARK: - Sessions

    /// Starts a session's process and its output pump.
    func startSession() -> BridgeSession? {
        let process = LineProcess(commandLine: options.commandLine, environment: options.environment, logger: logger)
        let session = BridgeSession(key: SessionSealer.newKey(), process: process)
        guard sessions.insert(session, limit: options.maximumSessions) else { return nil }
        let table = sessions
        let logger = logger
        Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    let outcome = await process.run()
                    logger.info("stdio server exited", metadata: ["outcome": .string(outcome)])
                }
                group.addTask { await session.pump() }
                group.addTask { await table.ended(session.key) }
                await group.next()
                table.end(session.key)
                group.cancelAll()
            }
            table.remove(session.key)
        }
        return session
    }

    // MARK: - Streamable HTTP

    func post(_ request: Request, logger: Logger) async -> Response {
        guard let bytes = await body(of: request) else {
            return MCPReply.error(
                JSONRPCError.invalidRequest("the body exceeds \(options.maximumBodyBytes) bytes"),
                status: .contentTooLarge
            )
        }
        let message: JSONRPCMessage
        do { message = try JSONRPCMessage(bytes: bytes) } catch { return MCPReply.error(error, status: .badRequest) }
        if request.headers[Self.versionHeader] == ProtocolVersions.stateless || message.method == "server/discover" {
            // A stdio server speaks the handshake era; 2026-07-28 clients fall back to initialize.
            return MCPReply.error(JSONRPCError.methodNotFound(message.method ?? "", id: message.id), status: .notFound)
        }
        let session: BridgeSession
        if message.method == "initialize", request.headers[Self.sessionHeader] == nil {
            guard let started = startSession() else {
                return MCPReply.error(JSONRPCError.invalidRequest("too many sessions"), status: .serviceUnavailable)
            }
            session = started
        } else {
            guard let key = request.headers[Self.sessionHeader] else {
                return MCPReply.error(
                    JSONRPCError.invalidRequest("missing Mcp-Session-Id; send initialize first"),
                    status: .badRequest
                )
            }
            guard let found = sessions[key], !found.isEnded else {
                return MCPReply.error(
                    JSONRPCError(code: .invalidRequest, message: "Session not found"),
                    status: .notFound
                )
            }
            session = found
        }
        guard message.kind == .request, let id = message.id else {
            session.process.send(bytes)
            return MCPReply.accepted()
        }
        let queue = OutboundQueue(capacity: 1024)
        guard session.expect(id, on: queue), session.process.send(bytes) else {
            return MCPReply.error(
                JSONRPCError.internalError("the stdio server is not running", id: id),
                status: .badGateway
            )
        }
        var headers = HTTPFields()
        headers[Self.sessionHeader] = session.key
        let pinged = keepAlive.register(queue)
        let first = await queue.next()
        keepAlive.unregister(pinged)
        guard let first else {
            return MCPReply.error(JSONRPCError.internalError("the stdio server exited", id: id), status: .badGateway)
        }
        if first.isFinal {
            headers[.contentType] = "application/json"
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: first.data))
            )
        }
        for field in MCPReply.eventStreamHeaders() { headers[field.name] = field.value }
        return EventStreamResponse.make(
            headers: headers,
            opening: [SSEEncoding.buffer(first)],
            queue: queue,
            keepAlive: keepAlive,
            endsOnShutdown: false
        ) { clientLeft in
            if clientLeft { session.forget(id) }
        }
    }

    func get(_ request: Request) -> Response {
        guard let key = request.headers[Self.sessionHeader], let session = sessions[key], !session.isEnded else {
            return MCPReply.error(JSONRPCError(code: .invalidRequest, message: "Session not found"), status: .notFound)
        }
        return stream(for: session, opening: nil)
    }

    func delete(_ request: Request) -> Response {
        guard let key = request.headers[Self.sessionHeader], sessions[key] != nil else {
            return MCPReply.error(JSONRPCError(code: .invalidRequest, message: "Session not found"), status: .notFound)
        }
        sessions.end(key)
        return Response(status: .noContent)
    }

    /// The whole body, or `nil` past `maximumBodyBytes`.
    func body(of request: Request) async -> [UInt8]? {
        guard var buffer = try? await request.body.collect(upTo: options.maximumBodyBytes) else { return nil }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    // MARK: - Legacy SSE

    func openSSE() -> Response {
        guard let session = startSession() else {
            return MCPReply.error(JSONRPCError.invalidRequest("too many sessions"), status: .serviceUnavailable)
        }
        return stream(
            for: session,
            opening: "event: endpoint\ndata: /message?session_id=\(session.key)\n\n",
            endsSession: true
        )
    }

    func postSSEMessage(_ request: Request) async -> Response {
        guard let key = request.uri.queryParameters.get("session_id"), let session = sessions[key], !session.isEnded
        else {
            return MCPReply.error(JSONRPCError(code: .invalidRequest, message: "Session not found"), status: .notFound)
        }
        guard let bytes = await body(of: request) else {
            return MCPReply.error(
                JSONRPCError.invalidRequest("the body exceeds \(options.maximumBodyBytes) bytes"),
                status: .contentTooLarge
            )
        }
        do { _ = try JSONRPCMessage(bytes: bytes) } catch { return MCPReply.error(error, status: .badRequest) }
        session.process.send(bytes)
        return MCPReply.accepted()
    }

    /// The session's stream of messages no POST waits for; the SSE transport's stream also ends
    /// the session when it closes.
    func stream(for session: BridgeSession, opening: String?, endsSession: Bool = false) -> Response {
        let queue = OutboundQueue(capacity: 1024)
        session.attach(queue)
        let sessions = sessions
        return EventStreamResponse.make(
            opening: opening.map { [ByteBuffer(string: $0)] } ?? [],
            queue: queue,
            keepAlive: keepAlive
        ) { _ in
            session.detach(queue)
            if endsSession { sessions.end(session.key) }
        }
    }
}

/// Bridge sessions by key; ending one ends its process.
final class SessionTable: Sendable {
    struct Entry {
        let session: BridgeSession
        var endWaiter: CheckedContinuation<Void, Never>?
        var ended = false
    }

    private let entries = Mutex<[String: Entry]>([:])

    func insert(_ session: BridgeSession, limit: Int) -> Bool {
        entries.withLock { entries in
            guard entries.count < limit else { return false }
            entries[session.key] = Entry(session: session)
            return true
        }
    }

    subscript(key: String) -> BridgeSession? { entries.withLock { $0[key]?.session } }

    /// Returns when the session is ended (its process is then stopped).
    func ended(_ key: String) async {
        await withCheckedContinuation { continuation in
            let done = entries.withLock { entries in
                guard var entry = entries[key], !entry.ended else { return true }
                entry.endWaiter = continuation
                entries[key] = entry
                return false
            }
            if done { continuation.resume() }
        }
    }

    func end(_ key: String) {
        let waiter = entries.withLock { entries -> CheckedContinuation<Void, Never>? in
            guard var entry = entries[key] else { return nil }
            entry.ended = true
            defer {
                entry.endWaiter = nil
                entries[key] = entry
            }
            return entry.endWaiter
        }
        waiter?.resume()
    }

    func remove(_ key: String) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    func endAll() {
        for key in entries.withLock({ Array($0.keys) }) { end(key) }
    }
}

/// Requires `Authorization: Bearer <token>` (compared in constant time).
struct BearerTokenCheck<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        let presented = request.headers[.authorization].flatMap { value -> String? in
            guard value.lowercased().hasPrefix("bearer ") else { return nil }
            return String(value.dropFirst(7))
        }
        guard let presented, Self.equal(Array(presented.utf8), Array(token.utf8)) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            return Response(status: .unauthorized, headers: headers)
        }
        return try await next(request, context)
    }

    static func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
