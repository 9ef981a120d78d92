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
/// Stdio carries no request context, so what the process sends during calls is attributed as
/// follows: progress by its token (rewritten per call, so calls of different clients never
/// mix), log messages and requests to the client (sampling, elicitation, roots) to the most
/// recently started call that can relay them.
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

    /// A call in flight that may receive what the process sends.
    struct Call {
        var relay: any UpstreamCallRelay
        /// The client's progress token, if any (the process sees the rewritten one).
        var clientToken: JSONValue?
        var order: Int
    }

    struct State {
        var phase = Phase.starting
        var writer: AsyncStream<[UInt8]>.Continuation?
        var pending: [JSONRPCID: CheckedContinuation<JSONRPCMessage, any Error>] = [:]
        var readyWaiters: [Int: CheckedContinuation<Handshake, any Error>] = [:]
        /// By the progress token the process sees (`"gwp-<request id>"`).
        var calls: [String: Call] = [:]
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

    init(
        target: UpstreamTarget, command: StdioCommand, options: Options, clientInfo: JSONValue, logger: Logger,
        makeID: @escaping @Sendable () -> JSONRPCID, emit: @escaping @Sendable (UpstreamEvent) -> Void
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
        method: String, params: [UInt8]?, deadline: NIODeadline, relay: (any UpstreamCallRelay)?
    ) async throws -> JSONRPCMessage {
        _ = try await ready(deadline: deadline)
        let id = makeID()
        var sent = params
        let token = "gwp-\(id)"
        if let relay {
            let clientToken = params.flatMap { try? JSONScanner.parse($0) }?["_meta"]?["progressToken"]
            if clientToken != nil, let rewritten = Self.replacingProgressToken(in: params, with: .string(token)) {
                sent = rewritten
            }
            state.withLock { state in
                state.nextTicket += 1
                state.calls[token] = Call(relay: relay, clientToken: clientToken, order: state.nextTicket)
            }
        }
        defer { _ = state.withLock { $0.calls.removeValue(forKey: token) } }
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
            logger.debug("stdio upstream wrote a line that is not JSON-RPC", metadata: ["upstream.id": .string(target.gatewayID)])
            return
        }
        switch message.kind {
        case .response, .errorResponse:
            guard let id = message.id, let waiter = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
            waiter.resume(returning: message)
        case .notification:
            if message.method == "notifications/progress", let token = ParamsRewriter.stringMember("progressToken", in: message),
                let call = state.withLock({ $0.calls[token] })
            {
                let params = message.paramsBytes.flatMap { try? JSONScanner.parse(Array($0)) }
                if var object = params?.objectValue, let clientToken = call.clientToken {
                    object["progressToken"] = clientToken
                    let bytes = JSONRPCMessage.notificationBytes(method: "notifications/progress", params: JSONValue.object(object).serializedBytes)
                    if let restored = try? JSONRPCMessage(bytes: bytes) { call.relay.notify(restored) }
                }
            } else if message.method == "notifications/message", let call = latestCall() {
                call.relay.notify(message)
            } else {
                emit(.notification(gatewayID: target.gatewayID, message: message))
            }
        case .request:
            guard let id = message.id else { return }
            let relay = latestCall()?.relay
            let method = message.method ?? ""
            let params = message.paramsBytes.map { Array($0) }
            Task {
                let reply: UpstreamReply
                if let relay {
                    reply = await relay.ask(method: method, params: params)
                } else if method == "ping" {
                    reply = .result(Array("{}".utf8))
                } else {
                    reply = .error(JSONRPCError(code: .methodNotFound, message: "\(method) has no client to ask outside a call").errorObjectBytes)
                }
                self.write(reply.responseBytes(id: id))
            }
        }
    }

    func latestCall() -> Call? {
        state.withLock { $0.calls.values.max { $0.order < $1.order } }
    }

    /// `params` with `_meta.progressToken` replaced.
    static func replacingProgressToken(in params: [UInt8]?, with token: JSONValue) -> [UInt8]? {
        guard let params, case .object(var object)? = try? JSONScanner.parse(params),
            case .object(var meta)? = object["_meta"]
        else { return nil }
        meta["progressToken"] = token
        object["_meta"] = .object(meta)
        return JSONValue.object(object).serializedBytes
    }
}
