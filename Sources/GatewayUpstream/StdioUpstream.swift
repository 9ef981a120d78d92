import GatewayCore
import Logging
import NIOCore
import Subprocess
import Synchronization
import SystemPackage

/// One stdio upstream: a supervised process speaking MCP as newline-delimited JSON-RPC on its
/// standard input and output, and the session over it.
///
/// The process is started, initialized, and restarted with exponential backoff when it exits;
/// after `maximumFailures` failed starts in a row it is given up (the gateway is marked
/// unreachable) until the gateway is updated or re-enabled. Its standard error goes to the log
/// under the gateway's id. Closing ends it: SIGTERM, then SIGKILL after a grace period.
///
/// Stdio carries no request context, so what the process sends during calls is attributed by
/// ``InFlightRelays``.
final class StdioUpstream: Sendable {
    struct Options: Sendable {
        var maximumFailures = 5
        var initialBackoff: Duration = .milliseconds(500)
        var maximumBackoff: Duration = .seconds(30)
        /// A process that ran at least this long before exiting starts the failure count afresh.
        var healthyRun: Duration = .seconds(30)
        var maximumLineBytes = 16 << 20
        var initializeTimeout: Duration = .seconds(30)
        var terminationGrace: Duration = .seconds(2)
        /// Most messages waiting to be written to the process.
        var writeQueue = 4096
        /// What the process inherits of the gateway's environment; its registered `env` is laid
        /// over it. Nothing else of the gateway's environment (its secrets) reaches it.
        var inheritedEnvironment: [String: String] = [:]
    }

    /// What initialize told.
    struct Handshake: Sendable {
        var protocolVersion: String
        var capabilities: JSONValue
        var serverInfo: JSONValue
    }

    enum Phase {
        case starting
        case ready(Handshake)
        case gaveUp(String)
        case closed
    }

    struct State {
        var phase = Phase.starting
        var writer: AsyncStream<[UInt8]>.Continuation?
        var pending: [JSONRPCID: CheckedContinuation<JSONRPCMessage, any Error>] = [:]
        var readyWaiters: [Int: CheckedContinuation<Handshake, any Error>] = [:]
        var nextTicket = 0
        var closeWaiter: CheckedContinuation<Void, Never>?
        /// Whether any life of the process got through initialize.
        var everReady = false
    }

    let target: UpstreamTarget
    let command: StdioCommand
    let options: Options
    let logger: Logger
    let makeID: @Sendable () -> JSONRPCID
    let emit: @Sendable (UpstreamEvent) -> Void
    let clientInfo: JSONValue
    let state = Mutex(State())
    let relays = InFlightRelays()

    init(
        target: UpstreamTarget,
        command: StdioCommand,
        options: Options,
        clientInfo: JSONValue,
        logger: Logger,
        makeID: @escaping @Sendable () -> JSONRPCID,
        emit: @escaping @Sendable (UpstreamEvent) -> Void
    ) {
        self.target = target
        self.command = command
        self.options = options
        self.clientInfo = clientInfo
        self.logger = logger
        self.makeID = makeID
        self.emit = emit
    }

    // MARK: - Calls

    /// The handshake, once the process is up (waiting until `deadline`).
    func ready(deadline: NIODeadline) async throws -> Handshake {
        let ticket = state.withLock { state in
            state.nextTicket += 1
            return state.nextTicket
        }
        return try await withDeadline(deadline) {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let outcome: Result<Handshake, any Error>? = self.state.withLock { state in
                        switch state.phase {
                        case .ready(let handshake): return .success(handshake)
                        case .gaveUp(let reason): return .failure(UpstreamError(.unreachable, reason))
                        case .closed: return .failure(UpstreamError(.unreachable, "the upstream process was stopped"))
                        case .starting:
                            if Task.isCancelled { return .failure(CancellationError()) }
                            state.readyWaiters[ticket] = continuation
                            return nil
                        }
                    }
                    if let outcome { continuation.resume(with: outcome) }
                }
            } onCancel: {
                let waiter = self.state.withLock { $0.readyWaiters.removeValue(forKey: ticket) }
                waiter?.resume(throwing: CancellationError())
            }
        }
    }

    /// Sends a request once the process is ready and returns its response. With a relay, the
    /// call receives what the process sends meanwhile; cancellation or the deadline tells the
    /// process to stop (`notifications/cancelled`).
    func request(
        method: String,
        params: [UInt8]?,
        deadline: NIODeadline,
        relay: (any UpstreamCallRelay)?
    ) async throws -> JSONRPCMessage {
        _ = try await ready(deadline: deadline)
        let id = makeID()
        var sent = params
        if let relay {
            let registered = relays.register(relay, id: id, params: params)
            sent = registered.params
        }
        defer { if relay != nil { relays.unregister("gwp-\(id)") } }
        let body = JSONRPCMessage.requestBytes(id: id, method: method, params: sent)
        do {
            return try await withDeadline(deadline) { try await self.exchange(id: id, body: body) }
        } catch let error as UpstreamError where error.code == .timeout || Task.isCancelled {
            cancel(id, reason: Task.isCancelled ? "cancelled by the client" : "timed out")
            throw error
        } catch is CancellationError {
            cancel(id, reason: "cancelled by the client")
            throw CancellationError()
        }
    }

    /// Writes one message and waits for the response with its id.
    func exchange(id: JSONRPCID, body: [UInt8]) async throws -> JSONRPCMessage {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let failure: (any Error)? = state.withLock { state in
                    guard let writer = state.writer else {
                        return UpstreamError(.unreachable, "the upstream process is not running")
                    }
                    if Task.isCancelled { return CancellationError() }
                    state.pending[id] = continuation
                    if case .dropped = writer.yield(body + [0x0A]) {
                        state.pending[id] = nil
                        return UpstreamError(.tooLarge, "too many messages waiting for the upstream process")
                    }
                    return nil
                }
                if let failure { continuation.resume(throwing: failure) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.pending.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Writes a message that expects no answer; `false` when the process is not running.
    @discardableResult
    func write(_ body: [UInt8]) -> Bool {
        guard let writer = state.withLock({ $0.writer }) else { return false }
        if case .enqueued = writer.yield(body + [0x0A]) { return true }
        return false
    }

    func cancel(_ id: JSONRPCID, reason: String) {
        let params: JSONValue = ["requestId": (try? JSONScanner.parse(id.raw)) ?? .null, "reason": .string(reason)]
        write(JSONRPCMessage.notificationBytes(method: "notifications/cancelled", params: params.serializedBytes))
    }

    // MARK: - What the process sends

    /// One line of the process's standard output.
    func received(_ line: [UInt8]) {
        guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { return }
        guard let message = try? JSONRPCMessage(bytes: line) else {
            logger.debug(
                "stdio upstream wrote a line that is not JSON-RPC",
                metadata: ["upstream.id": .string(target.gatewayID)]
            )
            return
        }
        switch message.kind {
        case .response, .errorResponse:
            guard let id = message.id, let waiter = state.withLock({ $0.pending.removeValue(forKey: id) }) else {
                return
            }
            waiter.resume(returning: message)
        case .notification, .request:
            let handled = relays.route(message) { [weak self] answer in self?.write(answer) }
            if handled { return }
            if message.kind == .notification {
                emit(.notification(gatewayID: target.gatewayID, message: message))
                return
            }
            guard let id = message.id else { return }
            write(UpstreamReply.outsideCall(message.method).responseBytes(id: id))
        }
    }
}
