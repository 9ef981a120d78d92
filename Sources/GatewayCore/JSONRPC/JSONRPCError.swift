/// A JSON-RPC error to send to a client: a standard code, a message, and optional data.
public struct JSONRPCError: Error, Sendable, Equatable {
    /// The standard and MCP error codes the gateway produces.
    public struct Code: Sendable, Hashable {
        /// The numeric code.
        public let rawValue: Int
        public init(_ rawValue: Int) { self.rawValue = rawValue }

        public static let parseError = Code(-32700)
        public static let invalidRequest = Code(-32600)
        public static let methodNotFound = Code(-32601)
        public static let invalidParams = Code(-32602)
        public static let internalError = Code(-32603)
        /// Upstream unreachable, timed out or failed (implementation-defined server error range).
        public static let upstreamError = Code(-32001)
        /// The resource asked for does not exist (MCP).
        public static let resourceNotFound = Code(-32002)
        /// The client sent more than its rate limit allows (a WebSocket frame over the limit).
        public static let rateLimited = Code(-32029)
        /// The client cancelled the request (`notifications/cancelled` or a closed stream).
        public static let requestCancelled = Code(-32800)
    }

    /// The error code.
    public var code: Code
    /// A short human-readable message; never carries secrets or stack traces.
    public var message: String
    /// The id of the request this answers, if it could be read.
    public var id: JSONRPCID?
    /// Optional structured detail.
    public var data: JSONValue?

    public init(code: Code, message: String, id: JSONRPCID? = nil, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.id = id
        self.data = data
    }

    public static func parseError(_ detail: String) -> Self {
        Self(code: .parseError, message: "Parse error: \(detail)")
    }
    public static func invalidRequest(_ detail: String, id: JSONRPCID? = nil) -> Self {
        Self(code: .invalidRequest, message: "Invalid request: \(detail)", id: id)
    }
    public static func methodNotFound(_ method: String, id: JSONRPCID? = nil) -> Self {
        Self(code: .methodNotFound, message: "Method not found: \(method)", id: id)
    }
    public static func invalidParams(_ detail: String, id: JSONRPCID? = nil) -> Self {
        Self(code: .invalidParams, message: "Invalid params: \(detail)", id: id)
    }
    public static func internalError(_ detail: String, id: JSONRPCID? = nil) -> Self {
        Self(code: .internalError, message: "Internal error: \(detail)", id: id)
    }

    /// This error with the request id it answers.
    public func answering(_ id: JSONRPCID?) -> Self {
        var copy = self
        copy.id = id
        return copy
    }

    /// The complete JSON-RPC error response.
    public var responseBytes: [UInt8] {
        JSONRPCMessage.errorResponseBytes(id: id ?? .null, error: errorObjectBytes)
    }

    /// The `error` object alone (`{"code":…,"message":…}`).
    public var errorObjectBytes: [UInt8] {
        var writer = JSONWriter(capacity: 64 + message.utf8.count)
        writer.raw("{\"code\":")
        writer.raw(Array(String(code.rawValue).utf8))
        writer.raw(",\"message\":")
        writer.string(message)
        if let data {
            writer.raw(",\"data\":")
            writer.value(data)
        }
        writer.raw("}")
        return writer.bytes
    }
}

extension JSONRPCMessage {
    /// A success response carrying `result` (raw JSON) for request `id`.
    public static func responseBytes(id: JSONRPCID, result: some Sequence<UInt8>) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.raw("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.raw(id.raw)
        writer.raw(",\"result\":")
        writer.raw(result)
        writer.raw("}")
        return writer.bytes
    }

    /// An error response carrying a raw upstream `error` object for request `id`.
    public static func errorResponseBytes(id: JSONRPCID, error: some Sequence<UInt8>) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.raw("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.raw(id.raw)
        writer.raw(",\"error\":")
        writer.raw(error)
        writer.raw("}")
        return writer.bytes
    }

    /// A request with raw `params` (or none).
    public static func requestBytes(id: JSONRPCID, method: String, params: (some Sequence<UInt8>)?) -> [UInt8] {
        messageBytes(id: id, method: method, params: params)
    }

    /// A notification with raw `params` (or none).
    public static func notificationBytes(method: String, params: (some Sequence<UInt8>)?) -> [UInt8] {
        messageBytes(id: nil, method: method, params: params)
    }

    static func messageBytes(id: JSONRPCID?, method: String, params: (some Sequence<UInt8>)?) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.raw("{\"jsonrpc\":\"2.0\",")
        if let id {
            writer.raw("\"id\":")
            writer.raw(id.raw)
            writer.raw(",")
        }
        writer.raw("\"method\":")
        writer.string(method)
        if let params {
            writer.raw(",\"params\":")
            writer.raw(params)
        }
        writer.raw("}")
        return writer.bytes
    }
}
