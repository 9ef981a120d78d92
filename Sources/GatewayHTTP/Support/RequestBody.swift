import GatewayCore
import GatewayHTTPFraming
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// Why a request body could not be read.
public enum RequestBodyError: Error, Sendable {
    /// Larger than the limit (413).
    case tooLarge(limit: Int)
    /// Not received in time (408): a client trickling its body holds no handler forever.
    case tooSlow(timeout: Duration)
}

extension RequestBodyError {
    /// The JSON-RPC answer for MCP transports.
    var response: Response {
        switch self {
        case .tooLarge(let limit):
            MCPReply.error(
                JSONRPCError.invalidRequest("the request body exceeds \(limit) bytes"),
                status: .contentTooLarge
            )
        case .tooSlow(let timeout):
            MCPReply.error(
                JSONRPCError.invalidRequest("the request body was not received within \(timeout.components.seconds) s"),
                status: .requestTimeout
            )
        }
    }

    /// The problem for REST routes.
    var problem: ProblemError {
        switch self {
        case .tooLarge(let limit): ProblemError(.contentTooLarge, "The request body exceeds \(limit) bytes")
        case .tooSlow(let timeout):
            ProblemError(.requestTimeout, "The request body was not received within \(timeout.components.seconds) s")
        }
    }
}

/// Reads whole request bodies with a size limit and a deadline (BODY_READ_TIMEOUT).
///
/// There is no timer per request (a sleeping task per request kept its timer alive for the whole
/// timeout and cost ~60 MB at 5k requests/s): reads in progress are registered, and one ticker,
/// this service's `run()`, cancels the overdue ones once a second. A deadline is therefore met
/// within about one second.
public final class RequestBodyReader: Service, Sendable {
    public let timeout: Duration
    private let reads = Mutex<
        (next: Int, active: [Int: (deadline: ContinuousClock.Instant, cancel: @Sendable () -> Void)])
    >(
        (0, [:])
    )

    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// The body, at most `limit` bytes, received within ``timeout``.
    public func collect(_ request: Request, limit: Int) async throws(RequestBodyError) -> ByteBuffer {
        // Awaited at once; a separate task only so that the ticker can cancel the read alone.
        let read = Task { try await request.body.collect(upTo: limit) }
        let deadline = ContinuousClock.now + timeout
        let cancel: @Sendable () -> Void = { read.cancel() }
        let ticket = reads.withLock { reads in
            reads.next += 1
            reads.active[reads.next] = (deadline, cancel)
            return reads.next
        }
        defer { _ = reads.withLock { $0.active.removeValue(forKey: ticket) } }
        let result = await withTaskCancellationHandler {
            await read.result
        } onCancel: {
            read.cancel()
        }
        switch result {
        case .success(let buffer): return buffer
        case .failure:
            throw ContinuousClock.now >= deadline ? .tooSlow(timeout: timeout) : .tooLarge(limit: limit)
        }
    }

    /// Cancels overdue reads once a second until shutdown.
    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            let now = ContinuousClock.now
            let overdue = reads.withLock { reads in reads.active.values.filter { $0.deadline <= now }.map(\.cancel) }
            for cancel in overdue { cancel() }
        }
    }
}
