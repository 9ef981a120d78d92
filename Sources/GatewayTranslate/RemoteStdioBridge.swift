import AsyncHTTPClient
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `mcpgateway translate --connect-streamable-http URL` (or `--connect-sse URL`): serves a remote
/// MCP server, such as this gateway, on standard input and output, so a desktop client that only
/// starts stdio servers can reach it. Messages are JSON lines both ways; logs go to standard error.
public struct RemoteStdioBridge: Sendable {
    public enum Remote: Sendable {
        case streamableHTTP(String)
        case sse(String)
    }

    let remote: Remote
    let bearerToken: String?
    let logger: Logger

    public init(remote: Remote, bearerToken: String?, logger: Logger) {
        self.remote = remote
        self.bearerToken = bearerToken
        self.logger = logger
    }

    /// Bridges until standard input ends (then the remote session is closed).
    public func run() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await bridge(http)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    func bridge(_ http: HTTPClient) async throws {
        let channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptors(input: STDIN_FILENO, output: STDOUT_FILENO) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let (toStdout, stdoutLines) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(4096))
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await line in toStdout { try await outbound.write(ByteBuffer(bytes: line + [0x0A])) }
                }
                let connection = RemoteConnection(
                    http: http,
                    remote: remote,
                    bearerToken: bearerToken,
                    logger: logger,
                    emit: { _ = stdoutLines.yield($0) }
                )
                try await connection.start()
                var pending: [UInt8] = []
                for try await chunk in inbound {
                    pending.append(contentsOf: chunk.readableBytesView)
                    while let newline = pending.firstIndex(of: 0x0A) {
                        let line = Array(pending[..<newline])
                        pending.removeSubrange(...newline)
                        if !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                            group.addTask { await connection.send(line) }
                        }
                    }
                }
                await connection.close()
                stdoutLines.finish()
                try await group.waitForAll()
            }
        }
    }
}

/// The remote side of the bridge: POSTs what the local client sends and passes back every
/// message the remote answers or streams.
final class RemoteConnection: Sendable {
    let http: HTTPClient
    let remote: RemoteStdioBridge.Remote
    let bearerToken: String?
    let logger: Logger
    let emit: @Sendable ([UInt8]) -> Void
    struct State {
        var sessionID: String?
        var version: String?
        /// The SSE transport's POST endpoint; empty once the stream ended without one.
        var endpoint: String?
        var listening = false
    }

    let state = Mutex(State())
    let endpointReady = Mutex<[CheckedContinuation<String, any Error>]>([])

    init(
        http: HTTPClient,
        remote: RemoteStdioBridge.Remote,
        bearerToken: String?,
        logger: Logger,
        emit: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.http = http
        self.remote = remote
        self.bearerToken = bearerToken
        self.logger = logger
        self.emit = emit
    }

    /// For SSE: opens the stream (its first event names where to POST).
    func start() async throws {
        guard case .sse(let url) = remote else { return }
        Task { await self.readStream(url: url, announcesEndpoint: true) }
    }

    func headers(json: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if json { headers.add(name: "content-type", value: "application/json") }
        headers.add(name: "accept", value: json ? "application/json, text/event-stream" : "text/event-stream")
        if let bearerToken { headers.add(name: "authorization", value: "Bearer \(bearerToken)") }
        let current = state.withLock { $0 }
        if let sessionID = current.sessionID { headers.add(name: "mcp-session-id", value: sessionID) }
        if let version = current.version { headers.add(name: "mcp-protocol-version", value: version) }
        return headers
    }

    /// Sends one message from the local client.
    func send(_ line: [UInt8]) async {
        let message = try? JSONRPCMessage(bytes: line)
        let url: String
        switch remote {
        case .streamableHTTP(let target): url = target
        case .sse:
            do { url = try await endpoint() } catch {
                fail(message, "the remote SSE stream announced no endpoint")
                return
            }
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers(json: true)
        request.body = .bytes(ByteBuffer(bytes: line))
        do {
            let response = try await http.execute(request, timeout: .seconds(3600), logger: logger)
            if message?.method == "initialize", let sessionID = response.headers.first(name: "mcp-session-id") {
                state.withLock { $0.sessionID = sessionID }
            }
            let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
            if contentType.hasPrefix("text/event-stream") {
                try await forwardEvents(of: response.body)
            } else {
                let body = try await response.body.collect(upTo: 64 << 20)
                let bytes = Array(body.readableBytesView)
                if !bytes.isEmpty, (try? JSONRPCMessage(bytes: bytes)) != nil {
                    if message?.method == "initialize" { noteVersion(bytes) }
                    emit(bytes)
                } else if response.status.code >= 400 {
                    fail(message, "the remote answered HTTP \(response.status.code)")
                }
            }
        } catch {
            fail(message, "the remote could not be reached")
        }
        if message?.method == "notifications/initialized", case .streamableHTTP(let url) = remote {
            let start = state.withLock { state -> Bool in
                defer { state.listening = true }
                return !state.listening && state.sessionID != nil
            }
            if start { Task { await self.readStream(url: url, announcesEndpoint: false) } }
        }
    }

    func noteVersion(_ bytes: [UInt8]) {
        if let version = (try? JSONScanner.parse(bytes))?["result"]?["protocolVersion"]?.stringValue {
            state.withLock { $0.version = version }
        }
    }

    /// Answers a request of the local client with an error when the remote gave none.
    func fail(_ message: JSONRPCMessage?, _ reason: String) {
        logger.warning("bridge: \(reason)")
        guard let message, message.kind == .request else { return }
        emit(JSONRPCError(code: .internalError, message: reason, id: message.id).responseBytes)
    }

    func forwardEvents(
        of body: HTTPClientResponse.Body,
        announcesEndpoint: Bool = false,
        base: String? = nil
    ) async throws {
        var parser = SSEParser(maximumEventSize: 64 << 20)
        for try await chunk in body {
            for event in try parser.feed(chunk.readableBytesView) {
                if event.event == "endpoint", announcesEndpoint, let base {
                    let path = String(decoding: event.data, as: UTF8.self)
                    if let resolved = URL(string: path, relativeTo: URL(string: base))?.absoluteString {
                        announce(resolved)
                    }
                } else if event.event == "message", !event.data.isEmpty {
                    if (try? JSONScanner.parse(event.data))?["result"]?["protocolVersion"] != nil {
                        noteVersion(event.data)
                    }
                    emit(event.data)
                }
            }
        }
    }

    /// The GET stream (server messages outside requests), reopened while it keeps dropping.
    func readStream(url: String, announcesEndpoint: Bool) async {
        for attempt in 0..<5 {
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            request.headers = headers(json: false)
            do {
                let response = try await http.execute(request, timeout: .seconds(30), logger: logger)
                guard response.status == .ok else {
                    logger.info("bridge: no server stream (HTTP \(response.status.code))")
                    return
                }
                try await forwardEvents(of: response.body, announcesEndpoint: announcesEndpoint, base: url)
            } catch {
                logger.info("bridge: server stream dropped")
            }
            if announcesEndpoint {
                failEndpoint()
                return
            }
            try? await Task.sleep(for: .seconds(attempt + 1))
        }
    }

    func announce(_ endpoint: String) {
        let waiters = endpointReady.withLock { waiters in
            defer { waiters = [] }
            return waiters
        }
        state.withLock { $0.endpoint = endpoint }
        for waiter in waiters { waiter.resume(returning: endpoint) }
    }

    /// The SSE stream ended: nobody will announce an endpoint any more.
    func failEndpoint() {
        let waiters = endpointReady.withLock { waiters in
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiters { waiter.resume(throwing: CancellationError()) }
        if state.withLock({ $0.endpoint }) == nil { state.withLock { $0.endpoint = "" } }
    }

    func endpoint() async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            if let endpoint = state.withLock({ $0.endpoint }) {
                if endpoint.isEmpty {
                    continuation.resume(throwing: CancellationError())
                } else {
                    continuation.resume(returning: endpoint)
                }
                return
            }
            endpointReady.withLock { $0.append(continuation) }
            if let endpoint = state.withLock({ $0.endpoint }) { announce(endpoint) }
        }
    }

    /// Ends the remote session (streamable HTTP: DELETE).
    func close() async {
        guard case .streamableHTTP(let url) = remote, state.withLock({ $0.sessionID }) != nil else { return }
        var request = HTTPClientRequest(url: url)
        request.method = .DELETE
        request.headers = headers(json: false)
        _ = try? await http.execute(request, timeout: .seconds(5), logger: logger)
    }
}
