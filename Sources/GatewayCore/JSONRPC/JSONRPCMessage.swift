/// A JSON-RPC id exactly as the peer wrote it (a number or a string), kept as raw JSON so it can be
/// echoed back byte for byte.
public struct JSONRPCID: Sendable, Hashable, CustomStringConvertible {
    /// The raw JSON text of the id.
    public let raw: [UInt8]

    /// An id from raw JSON text (`7` or `"abc"`).
    public init(raw: [UInt8]) { self.raw = raw }

    /// A numeric id.
    public init(_ number: Int) { self.raw = Array(String(number).utf8) }

    /// The longest id accepted, as JSON text (quotes and escapes included); a request with a
    /// longer one is refused with -32600 and answered with a `null` id.
    public static let maximumBytes = 256

    /// The JSON `null` id used in errors for requests whose id could not be read.
    public static let null = JSONRPCID(raw: Array("null".utf8))

    public var description: String { String(decoding: raw, as: UTF8.self) }
}

/// One JSON-RPC 2.0 message with only its envelope decoded; `params`, `result` and `error` are byte
/// ranges into ``bytes`` so payloads can be forwarded without being parsed.
public struct JSONRPCMessage: Sendable {
    /// What kind of message this is.
    public enum Kind: Sendable, Equatable {
        case request, notification, response, errorResponse
    }

    /// The whole message as received.
    public let bytes: [UInt8]
    /// Request, notification, response or error response.
    public let kind: Kind
    /// The id (absent on notifications).
    public let id: JSONRPCID?
    /// The method of a request or notification.
    public let method: String?
    /// Range of the `params` value in ``bytes``.
    public let params: Range<Int>?
    /// Range of the `result` value in ``bytes``.
    public let result: Range<Int>?
    /// Range of the `error` value in ``bytes``.
    public let error: Range<Int>?

    /// The raw `params` bytes, if present.
    public var paramsBytes: ArraySlice<UInt8>? { params.map { bytes[$0] } }
    /// The raw `result` bytes, if present.
    public var resultBytes: ArraySlice<UInt8>? { result.map { bytes[$0] } }
    /// The raw `error` bytes, if present.
    public var errorBytes: ArraySlice<UInt8>? { error.map { bytes[$0] } }

    /// Decodes the envelope of a single message (not a batch).
    ///
    /// - Throws: ``JSONRPCError`` with `parseError` for invalid JSON and `invalidRequest` for JSON
    ///   that is not a JSON-RPC 2.0 message.
    public init(bytes: [UInt8], maximumDepth: Int = 64) throws(JSONRPCError) {
        var scanner = JSONScanner(bytes: bytes, maximumDepth: maximumDepth)
        var fields = EnvelopeFields()
        do {
            guard scanner.peek() == UInt8(ascii: "{") else {
                _ = try scanner.skipValue()
                try scanner.expectEnd()
                throw JSONRPCError.invalidRequest("a JSON-RPC message must be a JSON object")
            }
            try scanner.forEachMember { (scanner: inout JSONScanner, key: String) throws(JSONSyntaxError) in
                try fields.read(key, from: &scanner, in: bytes)
            }
            try scanner.expectEnd()
        } catch let syntax as JSONSyntaxError {
            throw JSONRPCError.parseError(syntax.description)
        } catch let rpc as JSONRPCError {
            throw rpc
        } catch {
            throw JSONRPCError.parseError("invalid JSON")
        }
        self.kind = try fields.kind()
        self.bytes = bytes
        self.id = fields.id
        self.method = fields.method
        self.params = fields.params
        self.result = fields.result
        self.error = fields.error
        self.paramMemberRanges = fields.members
    }

    /// The members of the `params` object with their byte ranges in ``bytes``, in order (read once,
    /// while decoding; duplicates were refused).
    public let paramMemberRanges: [(key: String, range: Range<Int>)]

    /// The members of the `params` object with their byte ranges, in order.
    public func paramMembers() -> [(key: String, range: Range<Int>)] { paramMemberRanges }

    /// The top-level members of the object occupying `range` in `bytes`, in order. An empty list
    /// when `range` is not an object.
    public static func members(of bytes: [UInt8], in range: Range<Int>) -> [(key: String, range: Range<Int>)] {
        let whole = range == bytes.startIndex..<bytes.endIndex
        var scanner = JSONScanner(bytes: whole ? bytes : Array(bytes[range]))
        var found: [(key: String, range: Range<Int>)] = []
        guard scanner.peek() == UInt8(ascii: "{") else { return [] }
        do {
            try scanner.forEachMember { (scanner: inout JSONScanner, key: String) throws(JSONSyntaxError) in
                let valueRange = try scanner.skipValue(depth: 1)
                found.append(
                    (key, (valueRange.lowerBound + range.lowerBound)..<(valueRange.upperBound + range.lowerBound))
                )
            }
        } catch {
            return []
        }
        return found
    }

    /// Returns whether a body starts with `[` (a JSON-RPC batch).
    public static func isBatch(_ bytes: [UInt8]) -> Bool {
        for byte in bytes {
            switch byte {
            case 0x20, 0x0A, 0x0D, 0x09: continue
            case UInt8(ascii: "["): return true
            default: return false
            }
        }
        return false
    }

    /// Splits a batch (a JSON array) into the raw bytes of its elements.
    public static func splitBatch(_ bytes: [UInt8], maximumDepth: Int = 64) throws(JSONRPCError) -> [[UInt8]] {
        var scanner = JSONScanner(bytes: bytes, maximumDepth: maximumDepth)
        var elements: [[UInt8]] = []
        do {
            try scanner.forEachElement(depth: 0) { (scanner: inout JSONScanner) throws(JSONSyntaxError) in
                let range = try scanner.skipValue(depth: 1)
                elements.append(Array(bytes[range]))
            }
            try scanner.expectEnd()
        } catch {
            throw JSONRPCError.parseError(error.description)
        }
        if elements.isEmpty { throw JSONRPCError.invalidRequest("an empty batch is not a valid request") }
        return elements
    }
}

/// The members of a message's envelope, gathered as the scanner meets them, and what was wrong
/// with their shape (reported once the whole message is known to be valid JSON).
private struct EnvelopeFields {
    var version: String?
    var id: JSONRPCID?
    var idIsNull = false
    var method: String?
    var params: Range<Int>?
    var result: Range<Int>?
    var error: Range<Int>?
    var shapeProblem: String?
    var members: [(key: String, range: Range<Int>)] = []
    var seenKeys = Set<String>()

    mutating func read(_ key: String, from scanner: inout JSONScanner, in bytes: [UInt8]) throws(JSONSyntaxError) {
        if !seenKeys.insert(key).inserted { shapeProblem = "duplicate member \"\(key)\"" }
        switch key {
        case "jsonrpc":
            version = try readString(from: &scanner, orProblem: "\"jsonrpc\" must be \"2.0\"")
        case "id":
            try readID(from: &scanner, in: bytes)
        case "method":
            method = try readString(from: &scanner, orProblem: "\"method\" must be a string")
        case "params":
            try readParams(from: &scanner)
        case "result":
            result = try scanner.skipValue(depth: 1)
        case "error":
            error = try scanner.skipValue(depth: 1)
        default:
            try scanner.skipValue(depth: 1)
        }
    }

    /// A string member's value; anything else is skipped and recorded as `problem`.
    mutating func readString(
        from scanner: inout JSONScanner,
        orProblem problem: String
    ) throws(JSONSyntaxError)
        -> String?
    {
        if scanner.peek() == UInt8(ascii: "\"") { return try scanner.parseString() }
        try scanner.skipValue(depth: 1)
        shapeProblem = problem
        return nil
    }

    mutating func readID(from scanner: inout JSONScanner, in bytes: [UInt8]) throws(JSONSyntaxError) {
        let next = scanner.peek() ?? 0
        let range = try scanner.skipValue(depth: 1)
        switch next {
        case UInt8(ascii: "\""), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if range.count > JSONRPCID.maximumBytes {
                // Not echoed: an id is kept, replayed and logged, so its size is bounded.
                shapeProblem = "\"id\" must be at most \(JSONRPCID.maximumBytes) bytes of JSON"
            } else {
                id = JSONRPCID(raw: Array(bytes[range]))
            }
        case UInt8(ascii: "n"):
            idIsNull = true
        default:
            shapeProblem = "\"id\" must be a string or a number"
        }
    }

    /// Reads the members of an object `params` once, here; every later lookup uses their ranges.
    mutating func readParams(from scanner: inout JSONScanner) throws(JSONSyntaxError) {
        let next = scanner.peek()
        guard next == UInt8(ascii: "{") else {
            params = try scanner.skipValue(depth: 1)
            if next != UInt8(ascii: "[") { shapeProblem = "\"params\" must be an object" }
            return
        }
        let start = scanner.index
        var seen = Set<String>()
        var problem: String?
        var found: [(key: String, range: Range<Int>)] = []
        try scanner.forEachMember(depth: 1) { (scanner: inout JSONScanner, key: String) throws(JSONSyntaxError) in
            let range = try scanner.skipValue(depth: 2)
            if !seen.insert(key).inserted { problem = "\"params\" has a duplicate member \"\(key)\"" }
            found.append((key, range))
        }
        members = found
        if let problem { shapeProblem = problem }
        params = start..<scanner.index
    }

    /// What kind of message the members make, or why they make none.
    func kind() throws(JSONRPCError) -> JSONRPCMessage.Kind {
        if let shapeProblem { throw JSONRPCError.invalidRequest(shapeProblem, id: id) }
        guard version == "2.0" else { throw JSONRPCError.invalidRequest("\"jsonrpc\" must be \"2.0\"", id: id) }
        if method != nil {
            if result != nil || error != nil {
                throw JSONRPCError.invalidRequest("a request cannot carry \"result\" or \"error\"", id: id)
            }
            if idIsNull { throw JSONRPCError.invalidRequest("\"id\" must not be null", id: nil) }
            return id == nil ? .notification : .request
        }
        if result != nil, error == nil {
            guard id != nil else { throw JSONRPCError.invalidRequest("a response needs an \"id\"") }
            return .response
        }
        if error != nil, result == nil { return .errorResponse }
        throw JSONRPCError.invalidRequest("missing \"method\"", id: id)
    }
}
