import AsyncHTTPClient
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1

/// The legacy HTTP+SSE transport: a long-lived GET stream per upstream session, read by a job
/// running in the client's service task group.
extension HTTPUpstreamClient {
    /// Opens the stream and waits (until `deadline`) for the upstream to announce its endpoint.
    func openSSE(_ target: UpstreamTarget, deadline: NIODeadline) async throws -> SSEUpstreamConnection {
        try await checkAddress(of: target.url)
        let connection = SSEUpstreamConnection()
        var request = HTTPClientRequest(url: target.url)
        request.method = .GET
        request.headers.add(name: "accept", value: "text/event-stream")
        for header in target.auth.headers { request.headers.add(name: header.name, value: header.value) }
        let streamRequest = request
        let baseURL = target.url
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
        readerJobsContinuation.yield { [http] in
            // The stream is read until it ends or the connection is closed (session released,
            // gateway deleted, shutdown); closing cancels the read, which closes the socket.
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await Self.readStream(
                        http: http,
                        request: streamRequest,
                        deadline: deadline,
                        baseURL: baseURL,
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

    /// Reads the upstream's event stream, announcing the endpoint and delivering responses;
    /// always closes the connection when it stops.
    static func readStream(
        http: HTTPClient,
        request: HTTPClientRequest,
        deadline: NIODeadline,
        baseURL: String,
        connection: SSEUpstreamConnection,
        maximumEvent: Int,
        logger: Logger,
        standalone: @Sendable (JSONRPCMessage) -> Void
    ) async {
        do {
            let response = try await http.execute(request, deadline: deadline, logger: logger)
            guard response.status == .ok else {
                connection.close(UpstreamError(.httpStatus, "HTTP \(response.status.code) from the SSE endpoint"))
                return
            }
            var parser = SSEParser(maximumEventSize: maximumEvent)
            for try await chunk in response.body {
                for event in try parser.feed(chunk.readableBytesView) {
                    switch event.event {
                    case "endpoint":
                        let path = String(decoding: event.data, as: UTF8.self)
                        guard let resolved = resolve(path, against: baseURL) else {
                            connection.close(UpstreamError(.protocolViolation, "unusable SSE endpoint"))
                            return
                        }
                        connection.announceEndpoint(resolved)
                    case "message":
                        guard let message = try? JSONRPCMessage(bytes: event.data) else { continue }
                        switch message.kind {
                        case .response, .errorResponse: connection.deliver(message)
                        case .notification, .request: standalone(message)
                        }
                    default:
                        continue
                    }
                }
            }
            connection.close(UpstreamError(.unreachable, "the SSE stream ended"))
        } catch {
            connection.close(UpstreamError(.unreachable, "cannot connect"))
        }
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
        let endpoint = try await connection.endpoint()
        try await checkAddress(of: endpoint)
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for header in target.auth.headers { request.headers.add(name: header.name, value: header.value) }
        for header in target.forwardedHeaders { request.headers.add(name: header.name, value: header.value) }
        request.headers.addTraceContext()
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: deadline, logger: logger)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw UpstreamError(.timeout, "no answer before the deadline")
        } catch {
            throw UpstreamError(.unreachable, "cannot connect")
        }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        switch response.status.code {
        case 200..<300: return
        case 404: throw SessionExpired()
        default: throw UpstreamError(.httpStatus, "HTTP \(response.status.code) from the upstream")
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
