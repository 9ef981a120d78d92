import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Builds the HTTP responses of the MCP endpoints.
enum MCPReply {
    /// A JSON-RPC message as `application/json`, or as one SSE event when the client accepts only
    /// `text/event-stream`.
    static func message(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, request: Request, headers: HTTPFields = [:])
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

    /// A JSON-RPC error with an HTTP status, always as JSON (the SDK client reads it from any status).
    static func error(_ error: JSONRPCError, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: error.responseBytes)))
    }

    /// `202 Accepted` with no body, for notifications and responses.
    static func accepted() -> Response { Response(status: .accepted) }

    static func prefersEventStream(_ request: Request) -> Bool {
        guard let accept = request.headers[.accept] else { return false }
        return containsIgnoringCase(accept, "text/event-stream") && !containsIgnoringCase(accept, "application/json")
            && !containsIgnoringCase(accept, "*/*")
    }

    /// ASCII case-insensitive substring search on UTF-8 bytes (this runs on every MCP request;
    /// `lowercased()` + `contains` cost several microseconds here).
    static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }

    static func containsIgnoringCase(_ haystack: String, _ needle: StaticString) -> Bool {
        needle.withUTF8Buffer { needle in
            var haystack = haystack
            return haystack.withUTF8 { bytes in
                guard needle.count <= bytes.count else { return false }
                for start in 0...(bytes.count - needle.count) {
                    var offset = 0
                    while offset < needle.count, lower(bytes[start + offset]) == lower(needle[offset]) { offset += 1 }
                    if offset == needle.count { return true }
                }
                return false
            }
        }
    }

    /// The HTTP status for a JSON-RPC error code on the stateless path (as the SDK server does).
    static func statelessStatus(_ code: JSONRPCError.Code) -> HTTPResponse.Status {
        switch code {
        case .methodNotFound: .notFound
        case .parseError, .invalidRequest, .invalidParams, .headerMismatch, .unsupportedVersion: .badRequest
        default: .ok
        }
    }
}

extension JSONRPCError.Code {
    /// A routing header disagrees with the body (2026-07-28).
    static let headerMismatch = Self(-32020)
    /// The requested protocol version is not served (2026-07-28).
    static let unsupportedVersion = Self(-32022)
}
