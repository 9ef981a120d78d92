import GatewayCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A complete HTTP response from an upstream.
struct UpstreamHTTPResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    /// The body; for an SSE response read event by event, the final message alone.
    var body: ByteBuffer
    /// Whether the body was an SSE stream already handed to an event sink.
    var streamedEvents = false

    var contentType: String { headers.first(name: "content-type")?.lowercased() ?? "" }
}

/// A small pool of kept-alive HTTP/1.1 connections for the hot path: one POST per forwarded
/// call, written and read by a single channel handler on the channel's event loop.
///
/// Hand-written on SwiftNIO (which does the HTTP parsing) instead of going through
/// AsyncHTTPClient, because AsyncHTTPClient's per-request machinery (request preparation and URL
/// parsing, transaction state machines, the streaming body sequence) cost about 220 µs of CPU per
/// proxied call here, against about 60 µs for the same exchange on a plain channel (measured with
/// Benchmarks/run.py; see the Benchmarks README). Connections go to the address the SSRF guard
/// checked (see ``UpstreamConnector``); TLS endpoints are pooled separately from plain ones. Long
/// streams (a legacy SSE upstream's GET) get a connection of their own (``stream(_:path:headers:deadline:_:)``).
///
/// Connections per endpoint are capped; callers beyond the cap wait (until their deadline) for a
/// connection to come back. Idle connections are reused for at most `idleTimeout`, shorter than
/// common server keep-alive timeouts, so a POST is never written to a connection the server is
/// about to close (POSTs are not retried: a tool call must not run twice).
final class HTTP1ConnectionPool: Sendable {
    struct Options: Sendable {
        var maximumConnectionsPerEndpoint: Int
        var idleTimeout: TimeAmount
        var connectTimeout: TimeAmount
        var maximumResponseBytes: Int
        /// Resolves and checks every address before a connection is made to it.
        var addressGuard: UpstreamAddressGuard
        /// TLS for `https` endpoints (certificate verification stays on).
        var tlsConfiguration = UpstreamTLSContext.defaultConfiguration()
    }

    struct Connection: Sendable {
        let channel: any Channel
        let handler: HTTP1ExchangeHandler
    }

    struct Idle {
        let connection: Connection
        let since: NIODeadline
    }

    struct EndpointState {
        var idle: [Idle] = []
        var open = 0
        var waiters: [(ticket: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    struct State {
        var endpoints: [HTTP1Endpoint: EndpointState] = [:]
        var nextTicket = 0
        var shutDown = false
    }

    let options: Options
    let connector: UpstreamConnector
    private let state = Mutex(State())

    init(options: Options, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.options = options
        self.connector = UpstreamConnector(
            group: group,
            addressGuard: options.addressGuard,
            connectTimeout: options.connectTimeout,
            tls: UpstreamTLSContext(configuration: options.tlsConfiguration)
        )
    }

    /// POSTs `body` to `path` and returns the whole response (with an `eventSink`, an SSE
    /// response is read event by event; see ``HTTP1ExchangeHandler``).
    func post(
        _ endpoint: HTTP1Endpoint,
        path: String,
        headers: HTTPHeaders,
        body: [UInt8],
        deadline: NIODeadline,
        eventSink: (@Sendable ([UInt8]) -> Bool)? = nil
    ) async throws -> UpstreamHTTPResponse {
        let connection = try await acquire(endpoint, deadline: deadline)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        head.headers.replaceOrAdd(name: "host", value: endpoint.hostHeader)
        head.headers.replaceOrAdd(name: "content-length", value: String(body.count))
        do {
            let response = try await connection.handler.exchange(
                head: head,
                body: ByteBuffer(bytes: body),
                on: connection.channel,
                deadline: deadline,
                eventSink: eventSink
            )
            let keepAlive = response.headers.first(name: "connection")?.lowercased() != "close"
            release(connection, to: endpoint, reusable: keepAlive)
            return response
        } catch {
            release(connection, to: endpoint, reusable: false)
            throw error
        }
    }

    /// Closes every idle connection and refuses new work.
    func shutdown() {
        let (idle, waiters) = state.withLock { state in
            state.shutDown = true
            let idle = state.endpoints.values.flatMap { $0.idle.map(\.connection) }
            let waiters = state.endpoints.values.flatMap { $0.waiters.map(\.continuation) }
            state.endpoints = [:]
            return (idle, waiters)
        }
        for connection in idle { connection.channel.close(promise: nil) }
        for waiter in waiters { waiter.resume(throwing: UpstreamError(.unreachable, "gateway shutting down")) }
    }

    // MARK: - Leasing

    enum Lease {
        case reuse(Connection)
        case connect
        case wait
        case closed
    }

    func acquire(_ endpoint: HTTP1Endpoint, deadline: NIODeadline) async throws -> Connection {
        while true {
            let now = NIODeadline.now()
            var stale: [Connection] = []
            let lease: Lease = state.withLock { state in
                if state.shutDown { return .closed }
                var entry = state.endpoints[endpoint, default: EndpointState()]
                defer { state.endpoints[endpoint] = entry }
                while let candidate = entry.idle.popLast() {
                    if candidate.connection.channel.isActive, now - candidate.since < options.idleTimeout {
                        return .reuse(candidate.connection)
                    }
                    stale.append(candidate.connection)
                    entry.open -= 1
                }
                if entry.open < options.maximumConnectionsPerEndpoint {
                    entry.open += 1
                    return .connect
                }
                return .wait
            }
            for connection in stale { connection.channel.close(promise: nil) }
            switch lease {
            case .reuse(let connection):
                return connection
            case .connect:
                do {
                    return try await connect(endpoint, deadline: deadline)
                } catch {
                    releaseSlot(endpoint)
                    throw error
                }
            case .wait:
                try await withDeadline(deadline) { try await self.waitForSlot(endpoint) }
            case .closed:
                throw UpstreamError(.unreachable, "gateway shutting down")
            }
        }
    }

    func waitForSlot(_ endpoint: HTTP1Endpoint) async throws {
        let ticket = state.withLock { state in
            state.nextTicket += 1
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let admitted = state.withLock { state -> Bool in
                    var entry = state.endpoints[endpoint, default: EndpointState()]
                    defer { state.endpoints[endpoint] = entry }
                    if Task.isCancelled || !entry.idle.isEmpty || entry.open < options.maximumConnectionsPerEndpoint {
                        return true
                    }
                    entry.waiters.append((ticket, continuation))
                    return false
                }
                if admitted { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard var entry = state.endpoints[endpoint],
                    let index = entry.waiters.firstIndex(where: { $0.ticket == ticket })
                else { return nil }
                let waiter = entry.waiters.remove(at: index).continuation
                state.endpoints[endpoint] = entry
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Gives a connection back: pooled when reusable, otherwise closed; either way the next
    /// waiter (if any) may proceed.
    func release(_ connection: Connection, to endpoint: HTTP1Endpoint, reusable: Bool) {
        let idle = reusable && connection.channel.isActive ? Idle(connection: connection, since: .now()) : nil
        if !returnSlot(endpoint, keeping: idle) { connection.channel.close(promise: nil) }
    }

    /// Gives back the slot of a connection that was never opened.
    func releaseSlot(_ endpoint: HTTP1Endpoint) {
        _ = returnSlot(endpoint, keeping: nil)
    }

    /// Puts `idle` in the pool (or frees its slot when `nil`) and wakes one waiter; returns
    /// whether the connection was pooled.
    private func returnSlot(_ endpoint: HTTP1Endpoint, keeping idle: Idle?) -> Bool {
        let (pooled, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, any Error>?) in
            guard !state.shutDown, var entry = state.endpoints[endpoint] else { return (false, nil) }
            if let idle { entry.idle.append(idle) } else { entry.open -= 1 }
            let waiter = entry.waiters.isEmpty ? nil : entry.waiters.removeFirst().continuation
            state.endpoints[endpoint] = entry
            return (idle != nil, waiter)
        }
        waiter?.resume()
        return pooled
    }

    func connect(_ endpoint: HTTP1Endpoint, deadline: NIODeadline) async throws -> Connection {
        let maximumResponseBytes = options.maximumResponseBytes
        return try await connector.connect(endpoint, deadline: deadline) { channel in
            let handler = HTTP1ExchangeHandler(maximumResponseBytes: maximumResponseBytes)
            try channel.pipeline.syncOperations.addHandler(handler)
            return Connection(channel: channel, handler: handler)
        }
    }
}
