/// One Redis reply (RESP2).
public enum RESPValue: Sendable, Equatable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RESPValue])

    /// The reply as text: simple strings and bulk strings (UTF-8), `nil` otherwise.
    public var string: String? {
        switch self {
        case .simple(let text): text
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The reply as an integer: integer replies and numeric strings.
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulk, .simple: string.flatMap { Int64($0) }
        default: nil
        }
    }

    /// The elements of an array reply (empty for anything else).
    public var elements: [RESPValue] {
        if case .array(let values) = self { return values }
        return []
    }

    /// An array reply read as consecutive pairs: field and value (`HGETALL`, stream entries),
    /// member and score (`WITHSCORES`). A trailing odd element is ignored.
    public var pairs: [(RESPValue, RESPValue)] {
        let values = elements
        return stride(from: 0, to: values.count - 1, by: 2).map { (values[$0], values[$0 + 1]) }
    }

    /// Whether the reply is `nil` (a missing key, a failed `SET NX`).
    public var isNull: Bool { self == .null }
}

/// An argument of a Redis command, binary-safe.
public struct RESPArgument: Sendable, ExpressibleByStringLiteral {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    public init(_ value: Int64) { self.bytes = Array(String(value).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
}

/// A failure talking to Redis. Never carries the password or the URL.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable {
        let rawValue: String
        /// No connection could be made (or it is in back-off after failing).
        public static let unavailable = Code(rawValue: "unavailable")
        /// The connection closed or timed out before the reply.
        public static let connectionLost = Code(rawValue: "connection_lost")
        /// Redis answered with an error reply.
        public static let replyError = Code(rawValue: "reply_error")
        /// The reply could not be parsed, or had an unexpected shape.
        public static let protocolViolation = Code(rawValue: "protocol_violation")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "redis \(code.rawValue): \(message)" }
}
