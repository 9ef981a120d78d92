import Foundation
import GatewayCore
import Logging
import NIOCore
import Synchronization

/// Upstreams that speak only 2026-07-28: they refuse `initialize`, answer `server/discover`, and
/// take every request on its own, with the `_meta` envelope (protocol version, client
/// capabilities, client info) and the `Mcp-Method`/`Mcp-Name` routing headers. No session, no
/// GET stream.
extension HTTPUpstreamClient {
    /// What a request to a 2026-07-28 upstream says about its method and name, as headers.
    struct Routing: Sendable {
        var method: String
        var name: String?
    }

    /// Asks `server/discover` of an upstream that refused `initialize`; a "session" without id
    /// when it speaks 2026-07-28.
    func discoverStateless(
        _ target: UpstreamTarget,
        generation: Int,
        deadline: NIODeadline
    ) async throws
        -> UpstreamSession
    {
        var session = UpstreamSession(
            sessionID: nil,
            protocolVersion: ProtocolVersions.stateless,
            capabilities: [:],
            serverInfo: [:],
            sseConnection: nil,
            listener: nil,
            generation: generation
        )
        let id = makeID()
        let body = JSONRPCMessage.requestBytes(
            id: id,
            method: "server/discover",
            params: Self.params(nil, envelope: statelessEnvelope)
        )
        let (message, _) = try await postForSession(
            target,
            session: session,
            body: body,
            expecting: id,
            deadline: deadline,
            routing: Routing(method: "server/discover")
        )
        guard let bytes = message.resultBytes, let result = try? JSONScanner.parse(Array(bytes)),
            result["supportedVersions"]?.arrayValue?.contains(.string(ProtocolVersions.stateless)) == true
        else {
            throw UpstreamError(.protocolViolation, "the upstream refused initialize and server/discover")
        }
        session.capabilities = result["capabilities"] ?? [:]
        session.serverInfo = result["_meta"]?["io.modelcontextprotocol/serverInfo"] ?? [:]
        logger.debug(
            "upstream speaks 2026-07-28 only",
            metadata: ["upstream.id": .string(target.gatewayID)]
        )
        return session
    }

    /// The members of the `_meta` envelope sent with every request to a 2026-07-28 upstream, for
    /// a client that can be asked what `capabilities` say.
    static func envelope(
        clientName: String,
        clientVersion: String,
        capabilities: ClientCapabilities = []
    )
        -> [UInt8]
    {
        var declared = JSONObject()
        if capabilities.contains(.sampling) { declared["sampling"] = [:] }
        if capabilities.contains(.elicitation) { declared["elicitation"] = [:] }
        if capabilities.contains(.roots) { declared["roots"] = [:] }
        let members: JSONValue = [
            "io.modelcontextprotocol/protocolVersion": .string(ProtocolVersions.stateless),
            "io.modelcontextprotocol/clientCapabilities": .object(declared),
            "io.modelcontextprotocol/clientInfo": ["name": .string(clientName), "version": .string(clientVersion)],
        ]
        // Without the object's braces, to merge into a `_meta` that has members already.
        return Array(members.serializedBytes.dropFirst().dropLast())
    }

    /// The envelope for a call relayed through `relay`: the client's capabilities, and the log
    /// level it wants (2026-07-28 logs are per request: none unless asked).
    func statelessEnvelope(for relay: (any UpstreamCallRelay)?) -> [UInt8] {
        let envelope = statelessEnvelopes[(relay?.declaredCapabilities.rawValue ?? 0) & 7]
        guard let level = relay?.requestedLogLevel else { return envelope }
        return envelope + Array(#","io.modelcontextprotocol/logLevel":"#.utf8) + ParamsRewriter.jsonString(level.name)
    }

    /// `params` with the envelope's members added to its `_meta` (made when absent).
    static func params(_ params: [UInt8]?, envelope: [UInt8]) -> [UInt8] {
        guard let params, params.first == UInt8(ascii: "{") else {
            return Array("{\"_meta\":{".utf8) + envelope + Array("}}".utf8)
        }
        let members = JSONRPCMessage.members(of: params, in: 0..<params.count)
        guard let meta = members.first(where: { $0.key == "_meta" })?.range,
            params[meta.lowerBound] == UInt8(ascii: "{")
        else {
            let rest = params.dropFirst()
            let separator = members.isEmpty ? [] : Array(",".utf8)
            return Array("{\"_meta\":{".utf8) + envelope + Array("}".utf8) + separator + rest
        }
        let opening = meta.lowerBound + 1
        let empty = JSONRPCMessage.members(of: params, in: meta).isEmpty
        return Array(params[..<opening]) + envelope + (empty ? [] : Array(",".utf8)) + Array(params[opening...])
    }

    /// How a request names its target for the `Mcp-Name` header: the tool or prompt name, or the
    /// resource URI, as the upstream knows it.
    static func routing(method: String, params: [UInt8]?) -> Routing {
        let key: String
        switch method {
        case "tools/call", "prompts/get": key = "name"
        case "resources/read": key = "uri"
        default: return Routing(method: method)
        }
        guard let params, let value = try? JSONScanner.parse(params) else { return Routing(method: method) }
        return Routing(method: method, name: value[key]?.stringValue)
    }

    /// A header value for `name`: as it is when it is plain ASCII, otherwise base64 in the
    /// `=?base64?…?=` form 2026-07-28 defines.
    static func headerValue(_ name: String) -> String {
        let plain =
            name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
            && name.first != " " && name.last != " "
        guard !plain || name.hasPrefix("=?") else { return name }
        return "=?base64?" + Data(name.utf8).base64EncodedString() + "?="
    }

    /// The JSON-RPC error 2026-07-28 answers a request of a version the server does not serve.
    static let unsupportedVersionCode: Int64 = -32022

    /// The `code` of a JSON-RPC error object.
    static func errorCode(_ error: [UInt8]) -> Int64? {
        (try? JSONScanner.parse(error))?["code"]?.intValue
    }

    /// Records the era of `gatewayID`'s new session; a change is announced (``UpstreamEvent/eraChanged(gatewayID:protocolVersion:)``).
    func noteEra(of gatewayID: String, _ version: String) {
        let previous = eras.withLock { $0.updateValue(version, forKey: gatewayID) }
        let era = { (version: String) in version == ProtocolVersions.stateless }
        if let previous, era(previous) != era(version) {
            eventsContinuation.yield(.eraChanged(gatewayID: gatewayID, protocolVersion: version))
        }
    }

    /// What an `input_required` result asks: its questions, and the upstream's `requestState`
    /// (as JSON) to send back with the answers.
    struct InputRequired {
        var questions: [(key: String, method: String, params: [UInt8]?)]
        var requestState: [UInt8]?
    }

    /// The questions of `reply` when it is an `input_required` result; `nil` for any other reply
    /// (`resultType` missing means complete).
    static func inputRequired(in reply: UpstreamReply) -> InputRequired? {
        guard case .result(let bytes) = reply else { return nil }
        let members = JSONRPCMessage.members(of: bytes, in: 0..<bytes.count)
        guard let type = members.first(where: { $0.key == "resultType" })?.range,
            ParamsRewriter.string(in: bytes, at: type) == "input_required",
            let result = try? JSONScanner.parse(bytes)
        else { return nil }
        let questions = (result["inputRequests"]?.objectValue?.members ?? []).compactMap {
            key,
            request -> (key: String, method: String, params: [UInt8]?)? in
            guard let method = request["method"]?.stringValue else { return nil }
            return (key, method, request["params"]?.serializedBytes)
        }
        let state = members.first(where: { $0.key == "requestState" }).map { Array(bytes[$0.range]) }
        return InputRequired(questions: questions, requestState: state)
    }

    /// Settles a 2026-07-28 upstream's `input_required` for a client that cannot take it
    /// (2025-11-25 and earlier): each question is put to the client on the call's stream, and
    /// the request goes to the upstream again with the answers and its `requestState`, for as many
    /// rounds as the upstream needs, up to ``Options/maximumInputRounds``. A client that takes
    /// `input_required` itself (2026-07-28) gets it as it is.
    func settleInputRequired(
        _ first: UpstreamReply,
        _ target: UpstreamTarget,
        session: UpstreamSession,
        method: String,
        params: [UInt8]?,
        deadline: NIODeadline,
        relay: (any UpstreamCallRelay)?
    ) async throws -> UpstreamReply {
        var reply = first
        var params = params ?? Array("{}".utf8)
        for _ in 0..<options.maximumInputRounds {
            guard let asked = Self.inputRequired(in: reply) else { return reply }
            guard let relay else { return Self.cannotAsk("the client of this call cannot be asked for input") }
            if relay.passesInputRequired { return reply }
            var answers = JSONWriter(capacity: 256)
            answers.raw("{")
            for (index, question) in asked.questions.enumerated() {
                switch await relay.ask(method: question.method, params: question.params) {
                case .result(let answer):
                    if index > 0 { answers.raw(",") }
                    answers.string(question.key)
                    answers.raw(":")
                    answers.raw(answer)
                case .error(let error):
                    return .error(error)
                }
            }
            answers.raw("}")
            var retry: [(key: String, value: [UInt8])] = [("inputResponses", answers.bytes)]
            if let state = asked.requestState { retry.append(("requestState", state)) }
            guard let next = JSONObjectEditing.setting(retry, in: params) else {
                return Self.cannotAsk("the call's params are not an object")
            }
            params = next
            let message = try await exchange(
                target,
                session: session,
                method: method,
                params: params,
                deadline: deadline,
                relay: relay
            )
            reply = Self.reply(from: message)
        }
        guard Self.inputRequired(in: reply) != nil else { return reply }
        return Self.cannotAsk("the upstream asked for input more than \(options.maximumInputRounds) times")
    }

    static func cannotAsk(_ message: String) -> UpstreamReply {
        .error(JSONRPCError(code: .internalError, message: message).errorObjectBytes)
    }
}
