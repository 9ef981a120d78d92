import GatewayCore
import Hummingbird
import NIOCore

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
public struct RequestBodyReader: Sendable {
    public let timeout: Duration

    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// The body, at most `limit` bytes, received within ``timeout``.
    public func collect(_ request: Request, limit: Int) async throws(RequestBodyError) -> ByteBuffer {
        let timeout = self.timeout
        let result: Result<ByteBuffer, RequestBodyError> = await withTaskGroup(
            of: Result<ByteBuffer, RequestBodyError>?.self
        ) { group in
            group.addTask {
                do {
                    return .success(try await request.body.collect(upTo: limit))
                } catch {
                    return Task.isCancelled ? nil : .failure(.tooLarge(limit: limit))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(.tooSlow(timeout: timeout))
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(.tooSlow(timeout: timeout))
        }
        return try result.get()
    }
}
