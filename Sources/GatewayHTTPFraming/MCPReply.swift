import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Builds the HTTP responses of the MCP endpoints.
public enum MCPReply {
    /// A JSON-RPC message as `application/json`, or as one SSE event when the client accepts only
    /// `text/event-stream`.
    package static func message(
        _ bytes: [UInt8],
        status: HTTPResponse.Status = .ok,
        request: Request,
        headers: HTTPFields = [:]
    )
        -> Response
    {
        var fields = headers
        if prefersEventStream(request) {
            fields[.contentType] = "text/event-stream"
            fields[.cacheControl] = "no-cache"
            var buffer = ByteBuffer()
            buffer.writeString("event: message\ndata: ")
            buffer.writeBytes(bytes)
            buffer.writeString("\n\n")
            return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: buffer))
        }
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A JSON-RPC message as `application/json`, 200.
    package static func json(_ bytes: [UInt8]) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A JSON-RPC error with an HTTP status, always as JSON (the SDK client reads it from any status).
    public static func error(_ error: JSONRPCError, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response
    {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(
            status: status,
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: error.responseBytes))
        )
    }

    /// `202 Accepted` with no body, for notifications and responses.
    public static func accepted() -> Response { Response(status: .accepted) }

    /// Whether the client takes an SSE stream as the answer to a POST.
    package static func acceptsEventStream(_ request: Request) -> Bool {
        guard let accept = request.headers[.accept] else { return false }
        return ASCIICaseInsensitive.contains(accept, "text/event-stream")
            || ASCIICaseInsensitive.contains(accept, "*/*")
    }

    /// Tells nginx and similar proxies not to buffer a stream.
    public static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!

    /// Headers of an SSE answer: not cached, not transformed, not buffered by proxies.
    public static func eventStreamHeaders() -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache, no-transform"
        headers[accelBuffering] = "no"
        return headers
    }

    package static func prefersEventStream(_ request: Request) -> Bool {
        guard let accept = request.headers[.accept] else { return false }
        return ASCIICaseInsensitive.contains(accept, "text/event-stream")
            && !ASCIICaseInsensitive.contains(accept, "application/json")
            && !ASCIICaseInsensitive.contains(accept, "*/*")
    }

    /// The HTTP status for a JSON-RPC error code on the stateless path (as the SDK server does).
    package static func statelessStatus(_ code: JSONRPCError.Code) -> HTTPResponse.Status {
        switch code {
        case .methodNotFound: .notFound
        case .parseError, .invalidRequest, .invalidParams, .headerMismatch, .unsupportedVersion: .badRequest
        default: .ok
        }
    }
}

extension JSONRPCError.Code {
    /// A routing header disagrees with the body (2026-07-28).
    package static let headerMismatch = Self(-32020)
    /// The requested protocol version is not served (2026-07-28).
    package static let unsupportedVersion = Self(-32022)
}
