import ExtrasBase64
import GatewayCore
import GatewayHTTPFraming
import HTTPTypes

/// The 2026-07-28 era at the edge: what a request's envelope (`params._meta` and the `Mcp-Method`
/// and `Mcp-Name` headers) must say on the way in, and what a result carries on the way out
/// (`resultType`, cache hints). The dispatcher sees only the ``ClientEra`` it implements.
struct StatelessEra: ClientEra {
    func answers(_ method: String) -> Bool { method == "server/discover" }
    var carriesEnvelope: Bool { true }
    func finish(result: [UInt8], method: String) -> [UInt8] { ResultDecorator.decorate(result, method: method) }

    /// What a request's envelope asks of this hop.
    struct Envelope {
        /// Log notifications of a call are relayed at or above this level only; none without it.
        var logLevel: LoggingLevel?
        /// What the client can be asked (`input_required`), from its `clientCapabilities`.
        var capabilities: ClientCapabilities = []
    }

    static let protocolVersionKey = "io.modelcontextprotocol/protocolVersion"
    static let clientCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities"
    static let logLevelKey = "io.modelcontextprotocol/logLevel"

    /// Reads and checks a request's envelope: the headers must match the body, and `_meta` must
    /// carry this era's protocol version and the client's capabilities.
    static func envelope(
        of message: JSONRPCMessage,
        method: String,
        headers: HTTPFields
    ) -> Result<Envelope, JSONRPCError> {
        if let headerMethod = headers[MCPRoutes.methodHeader], headerMethod != method {
            return .failure(
                JSONRPCError(
                    code: .headerMismatch,
                    message: "Mcp-Method header does not match the body",
                    id: message.id
                )
            )
        }
        if let mismatch = nameHeaderMismatch(headers[MCPRoutes.nameHeader], message: message) {
            return .failure(mismatch)
        }
        let meta = ParamsRewriter.metaMembers(in: message) ?? []
        guard let versionRange = meta.first(where: { $0.key == protocolVersionKey })?.range,
            let version = ParamsRewriter.string(in: message.bytes, at: versionRange),
            let capabilities = meta.first(where: { $0.key == clientCapabilitiesKey })?.range,
            message.bytes[capabilities.lowerBound] == UInt8(ascii: "{")
        else {
            return .failure(
                JSONRPCError.invalidParams(
                    "params._meta must carry io.modelcontextprotocol/protocolVersion and clientCapabilities",
                    id: message.id
                )
            )
        }
        if version != ProtocolVersions.stateless {
            return .failure(
                JSONRPCError(
                    code: .headerMismatch,
                    message: "MCP-Protocol-Version header does not match _meta",
                    id: message.id
                )
            )
        }
        let logLevel = meta.first(where: { $0.key == logLevelKey })
            .flatMap { ParamsRewriter.string(in: message.bytes, at: $0.range) }
            .flatMap(LoggingLevel.init(name:))
        var declared: ClientCapabilities = []
        for member in JSONRPCMessage.members(of: message.bytes, in: capabilities)
        where message.bytes[member.range.lowerBound] == UInt8(ascii: "{") {
            switch member.key {
            case "sampling": declared.insert(.sampling)
            case "elicitation": declared.insert(.elicitation)
            case "roots": declared.insert(.roots)
            default: break
            }
        }
        return .success(Envelope(logLevel: logLevel, capabilities: declared))
    }

    /// The `Mcp-Name` header must name what the body names (the tool, prompt or resource).
    static func nameHeaderMismatch(_ header: String?, message: JSONRPCMessage) -> JSONRPCError? {
        guard let header else { return nil }
        let key: String
        switch message.method {
        case "tools/call", "prompts/get": key = "name"
        case "resources/read": key = "uri"
        default: return nil
        }
        var expected = header
        if header.hasPrefix("=?base64?"), header.hasSuffix("?="),
            let data = try? Base64.decode(string: String(header.dropFirst(9).dropLast(2)))
        {
            expected = String(decoding: data, as: UTF8.self)
        }
        guard ParamsRewriter.stringMember(key, in: message) == expected else {
            return JSONRPCError(
                code: .headerMismatch,
                message: "Mcp-Name header does not match the body",
                id: message.id
            )
        }
        return nil
    }
}
