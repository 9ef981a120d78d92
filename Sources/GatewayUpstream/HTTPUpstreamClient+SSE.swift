import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1

/// The legacy HTTP+SSE transport: a long-lived GET stream per upstream session, read by a job
/// running in the client's service task group, and POSTs to the endpoint it announces. Both go
/// through ``HTTP1ConnectionPool``, so every connection (http or https) is made to the address
/// the SSRF guard checked just before.
extension HTTPUpstreamClient {
    /// Opens the stream and waits (until `deadline`) for the upstream to announce its endpoint.
    /// A refused address fails this with the guard's error.
    func openSSE(_ target: UpstreamTarget, deadline: NIODeadline) async throws -> SSEUpstreamConnection {
        guard let (endpoint, path) = endpoint(of: target.url) else {
            throw UpstreamError(.blocked, "the URL is not http or https")
        }
        let connection = SSEUpstreamConnection()
        var headers = HTTPHeaders()
        headers.add(name: "accept", value: "text/event-stream")
        for header in target.auth.headers { headers.add(name: header.name, value: header.value) }
        let stream = SSEStreamRequest(endpoint: endpoint, path: path, headers: headers, baseURL: target.url)
        let logger = self.logger
        let maximumEvent = options.maximumResponseBytes
        // Messages that are not responses belong to a call in flight (progress, logs, requests to
        // the client) or else to the upstream itself (list changes, resource updates), handled as
        // a streamable HTTP upstream's GET stream is.
        let standalone: @Sendable (JSONRPCMessage) -> Void = { [weak self] message in
            guard let client = self else { return }
            let answer: @Sendable ([UInt8]) async throws -> Void = { body in
                try await client.ssePost(target, connection: connection, body: body, deadline: .now() + .seconds(10))
            }
            if connection.relays.route(message, answer: { try? await answer($0) }) { return }
            client.standalone(message, gatewayID: target.gatewayID, answer: answer)
        }
        readerJobsContinuation.yield { [pool] in
            // The stream is read until it ends or the connection is closed (session released,
            // gateway deleted, shutdown); closing cancels the read, which closes the socket.
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await Self.readStream(
                        stream,
                        pool: pool,
                        deadline: deadline,
                        connection: connection,
                        maximumEvent: maximumEvent,
                        logger: logger,
                        standalone: standalone
                    )
                }
                group.addTask { await connection.closed() }
                // Either the reader stopped (and closed the connection) or someone closed it.
                await group.next()
                group.cancelAll()
            }
        }
        do {
            return try await withDeadline(deadline) {
                _ = try await connection.endpoint()
                return connection
            }
        } catch {
            connection.close(UpstreamError(.unreachable, "no endpoint announced"))
            throw error
        }
    }

    /// Where and how the stream is requested.
    struct SSEStreamRequest: Sendable {
        var endpoint: HTTP1Endpoint
        var path: String
        var headers: HTTPHeaders
        /// The stream's URL, against which the announced endpoint is resolved.
        var baseURL: String
    }

    /// Reads the upstream's event stream, announcing the endpoint and delivering responses;
    /// always closes the connection when it stops (with the guard's error when the address was
    /// refused).
    static func readStream(
        _ request: SSEStreamRequest,
        pool: HTTP1ConnectionPool,
        deadline: NIODeadline,
        connection: SSEUpstreamConnection,
        maximumEvent: Int,
        logger: Logger,
        standalone: @Sendable (JSONRPCMessage) -> Void
    ) async {
        do {
            try await pool.stream(request.endpoint, path: request.path, headers: request.headers, deadline: deadline) {
                head,
                body in
                guard head.status == .ok else {
                    connection.close(UpstreamError(.httpStatus, "HTTP \(head.status.code) from the SSE endpoint"))
                    return
                }
                var parser = SSEParser(maximumEventSize: maximumEvent)
                for try await chunk in body {
                    for event in try parser.feed(chunk.readableBytesView) {
                        guard handle(event, baseURL: request.baseURL, connection: connection, standalone: standalone)
                        else { return }
                    }
                }
                connection.close(UpstreamError(.unreachable, "the SSE stream ended"))
            }
        } catch let error as UpstreamError {
            connection.close(error)
        } catch {
            logger.debug("upstream SSE stream failed", metadata: ["error.type": .string("\(type(of: error))")])
            connection.close(UpstreamError(.unreachable, "cannot connect"))
        }
    }

    /// Acts on one event of the stream; returns `false` when the stream is unusable (the
    /// connection is closed then).
    static func handle(
        _ event: SSEEvent,
        baseURL: String,
        connection: SSEUpstreamConnection,
        standalone: @Sendable (JSONRPCMessage) -> Void
    ) -> Bool {
        switch event.event {
        case "endpoint":
            let path = String(decoding: event.data, as: UTF8.self)
            guard let resolved = resolve(path, against: baseURL) else {
                connection.close(UpstreamError(.protocolViolation, "unusable SSE endpoint"))
                return false
            }
            connection.announceEndpoint(resolved)
        case "message":
            guard let message = try? JSONRPCMessage(bytes: event.data) else { return true }
            switch message.kind {
            case .response, .errorResponse: connection.deliver(message)
            case .notification, .request: standalone(message)
            }
        default:
            break
        }
        return true
    }

    /// Resolves the announced endpoint against the stream's URL; only the same origin is allowed.
    static func resolve(_ endpoint: String, against base: String) -> String? {
        guard let baseURL = URL(string: base), let resolved = URL(string: endpoint, relativeTo: baseURL)?.absoluteURL
        else { return nil }
        guard resolved.scheme == baseURL.scheme, resolved.host == baseURL.host, resolved.port == baseURL.port else {
            return nil
        }
        return resolved.absoluteString
    }

    func ssePost(
        _ target: UpstreamTarget,
        connection: SSEUpstreamConnection,
        body: [UInt8],
        deadline: NIODeadline
    )
        async throws
    {
        guard let (endpoint, path) = endpoint(of: try await connection.endpoint()) else {
            throw UpstreamError(.protocolViolation, "unusable SSE endpoint")
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        for header in target.auth.headers { headers.add(name: header.name, value: header.value) }
        for header in target.forwardedHeaders { headers.add(name: header.name, value: header.value) }
        headers.addTraceContext()
        let response = try await pool.post(endpoint, path: path, headers: headers, body: body, deadline: deadline)
        switch response.status {
        case 200..<300: return
        case 404: throw SessionExpired()
        default: throw UpstreamError(.httpStatus, "HTTP \(response.status) from the upstream")
        }
    }

    func sseExchange(
        _ target: UpstreamTarget,
        connection: SSEUpstreamConnection,
        id: JSONRPCID,
        body: [UInt8],
        deadline: NIODeadline
    ) async throws -> JSONRPCMessage {
        try await withDeadline(deadline) {
            try await connection.response(to: id) {
                try await self.ssePost(target, connection: connection, body: body, deadline: deadline)
            }
        }
    }
}
