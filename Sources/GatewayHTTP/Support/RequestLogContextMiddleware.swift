import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Tracing
import W3CTraceContext

/// Puts what identifies a request on its logger, so every line it logs can be joined up:
/// `request_id` (the client's `X-Request-Id` when it is a plain token of at most 128 characters,
/// else Hummingbird's generated id; echoed in the answer's `X-Request-Id`), `trace_id` (of the
/// W3C trace the request belongs to, when a tracer set one up before this runs) and `session_hash`
/// (the first 16 hex digits of the SHA-256 of `Mcp-Session-Id`: stable for a session, and no
/// use to anyone who reads the logs, since the id itself is a bearer credential for the session).
public struct RequestLogContextMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        // Hummingbird's generated id is on the logger already (rendered as `request_id`); a
        // client's own id replaces it.
        let id: String
        if let own = request.headers[.xRequestID].flatMap(RequestLogContext.acceptable) {
            id = own
            context.logger[metadataKey: RequestLogContext.hummingbirdKey] = .string(own)
        } else {
            id = context.logger[metadataKey: RequestLogContext.hummingbirdKey].map { "\($0)" } ?? ""
        }
        if let trace = InstrumentationContext.current?.traceContext {
            context.logger[metadataKey: "trace_id"] = .stringConvertible(trace.traceID)
        }
        if let session = request.headers[.mcpSessionID] {
            // Hashed only if a line is written.
            context.logger[metadataKey: "session_hash"] = .stringConvertible(SessionHash(sessionID: session))
        }
        do {
            var response = try await next(request, context)
            response.headers[.xRequestID] = id
            return response
        } catch var problem as ProblemError {
            problem.headers[.xRequestID] = id
            throw problem
        }
    }
}

/// What ``RequestLogContextMiddleware`` reads and writes.
public enum RequestLogContext {
    /// Where Hummingbird keeps a request's id on its logger; log lines name it `request_id`.
    public static let hummingbirdKey = "hb.request.id"

    /// A client's id, if it is safe to log and echo: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
    static func acceptable(_ text: String) -> String? {
        guard (1...128).contains(text.utf8.count) else { return nil }
        let allowed = text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
                UInt8(ascii: "-"):
                true
            default: false
            }
        }
        return allowed ? text : nil
    }

    /// The first 8 bytes of the session id's SHA-256, in hex.
    public static func sessionHash(_ sessionID: String) -> String {
        SHA256.hash(data: Array(sessionID.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
    static let mcpSessionID = Self("Mcp-Session-Id")!
}

/// A session id's hash for log lines, computed when a line is rendered rather than on every
/// request (most requests log nothing).
struct SessionHash: CustomStringConvertible, Sendable {
    let sessionID: String
    var description: String { RequestLogContext.sessionHash(sessionID) }
}
