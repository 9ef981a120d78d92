import GatewayCore

/// Everything nodes say to each other over Redis pub/sub, typed. On the wire a message is one JSON
/// object, `{"v":1,"t":"<type>",…}`, written with ``JSONWriter``: JSON payloads (events, request
/// ids, answers) are embedded as they are, never re-escaped. A message of another version, of an
/// unknown type or missing a field is not read at all (``init(bytes:)`` returns `nil`), so nodes
/// of different builds ignore what they cannot read rather than misread it.
enum ClusterMessage: Equatable, Sendable {
    // On the shared channel, to every node.
    /// The catalog changed: reload it.
    case catalogChanged
    /// The leader should re-list this upstream.
    case syncRequested(gatewayID: String)
    /// A token was revoked (until it would have expired anyway).
    case revoked(tokenID: String, expiresAt: Int64)
    /// A stateful session ended (remembered until `expiresAt`).
    case ended(session: String, expiresAt: Int64)
    /// Cancel this call if it runs here.
    case cancel(id: JSONRPCID, owner: String)

    // On one node's channel.
    /// An event for a stream this node holds.
    case event(session: String, LoggedEvent)
    /// A client's answer to a request this node put to it.
    case answer(id: JSONRPCID, owner: String, reply: UpstreamReply)
    /// Another node took this stream over.
    case release(session: String, stream: String)
    /// A message posted on another node for a connection-bound session held here, at `sentAt`
    /// (milliseconds since 1970, the posting node's clock).
    case posted(PostedMessage, ticket: PostTicket, sentAt: Int64)
    /// The holding node's verdict on a message this node posted.
    case verdict(PostOutcome, ticket: PostTicket)
    /// A 2026-07-28 client's retry of a call held here, received by the ticket's node.
    case retry(InputRoundRetry, ticket: PostTicket)
    /// What the holding node sends back for a retry this node handed it.
    case round(InputRoundEvent, ticket: PostTicket)
    /// The client of a retry handed here left before its reply.
    case retryAbandoned(ticket: PostTicket)

    /// The wire format's version; a node reads only its own.
    static let version = 1

    /// The message as sent.
    var bytes: [UInt8] {
        let writer = Writer(type: type)
        switch self {
        case .catalogChanged: break
        case .syncRequested(let gatewayID): writer.field("gateway", gatewayID)
        case .revoked(let tokenID, let expiresAt): writer.field("token", tokenID).field("expires", expiresAt)
        case .ended(let session, let expiresAt): writer.field("session", session).field("expires", expiresAt)
        case .cancel(let id, let owner): writer.field("owner", owner).raw("id", id.raw)
        case .event(let session, let event):
            writer.field("session", session).field("stream", event.stream).field("sequence", Int64(event.sequence))
            writer.field("final", event.isFinal ? 1 : 0).raw(
                "data",
                event.data.isEmpty ? Array("null".utf8) : event.data
            )
        case .answer(let id, let owner, let reply):
            writer.field("owner", owner).raw("id", id.raw)
            switch reply {
            case .result(let result): writer.raw("result", result)
            case .error(let error): writer.raw("error", error)
            }
        case .release(let session, let stream): writer.field("session", session).field("stream", stream)
        case .posted(let posted, let ticket, let sentAt):
            writer.ticket(ticket).field("sent", sentAt).field("session", posted.session).field(
                "subject",
                posted.subject
            )
            writer.optional("server", posted.serverID).optional("hops", posted.hops)
            writer.optional("caller", posted.onBehalfOf).field("message", posted.message)
        case .verdict(let outcome, let ticket): writer.ticket(ticket).field("outcome", outcome.rawValue)
        case .retry(let retry, let ticket):
            writer.ticket(ticket).field("call", retry.call).raw("id", retry.requestID.raw)
            if let answers = retry.answers { writer.raw("answers", answers) }
        case .round(.message(let data), let ticket): writer.ticket(ticket).raw("message", data)
        case .round(.reply(let data, let code), let ticket):
            writer.ticket(ticket).raw("reply", data)
            if let code { writer.field("code", Int64(code)) }
        case .retryAbandoned(let ticket): writer.ticket(ticket)
        }
        return writer.finished()
    }

    var type: String {
        switch self {
        case .catalogChanged: "catalog"
        case .syncRequested: "sync"
        case .revoked: "revoked"
        case .ended: "ended"
        case .cancel: "cancel"
        case .event: "event"
        case .answer: "answer"
        case .release: "release"
        case .posted: "posted"
        case .verdict: "verdict"
        case .retry: "retry"
        case .round: "round"
        case .retryAbandoned: "abandoned"
        }
    }

    /// Reads a message; `nil` when it is not one this build reads.
    init?(bytes: [UInt8]) {
        guard let fields = Fields(bytes), fields.integer("v") == Int64(Self.version), let type = fields.string("t")
        else { return nil }
        guard let message = Self.read(type, fields) else { return nil }
        self = message
    }

    private static func read(_ type: String, _ f: Fields) -> ClusterMessage? {
        switch type {
        case "catalog": return .catalogChanged
        case "sync": return f.string("gateway").map { .syncRequested(gatewayID: $0) }
        case "revoked":
            guard let token = f.string("token"), let expires = f.integer("expires") else { return nil }
            return .revoked(tokenID: token, expiresAt: expires)
        case "ended":
            guard let session = f.string("session"), let expires = f.integer("expires") else { return nil }
            return .ended(session: session, expiresAt: expires)
        case "cancel":
            guard let owner = f.string("owner"), let id = f.raw("id") else { return nil }
            return .cancel(id: JSONRPCID(raw: id), owner: owner)
        case "event":
            guard let session = f.string("session"), let stream = f.string("stream"),
                let sequence = f.integer("sequence"), let final = f.integer("final"), let data = f.raw("data")
            else { return nil }
            let payload = data == Array("null".utf8) ? [] : data
            return .event(
                session: session,
                LoggedEvent(stream: stream, sequence: Int(sequence), data: payload, isFinal: final == 1)
            )
        case "answer":
            guard let owner = f.string("owner"), let id = f.raw("id") else { return nil }
            guard let reply = f.raw("result").map(UpstreamReply.result) ?? f.raw("error").map(UpstreamReply.error)
            else { return nil }
            return .answer(id: JSONRPCID(raw: id), owner: owner, reply: reply)
        case "release":
            guard let session = f.string("session"), let stream = f.string("stream") else { return nil }
            return .release(session: session, stream: stream)
        case "posted":
            guard let ticket = f.ticket(), let sent = f.integer("sent"), let session = f.string("session"),
                let subject = f.string("subject"), let message = f.string("message")
            else { return nil }
            let posted = PostedMessage(
                session: session,
                subject: subject,
                serverID: f.string("server"),
                hops: f.string("hops"),
                onBehalfOf: f.string("caller"),
                message: message
            )
            return .posted(posted, ticket: ticket, sentAt: sent)
        case "verdict":
            guard let ticket = f.ticket(), let outcome = f.string("outcome").flatMap(PostOutcome.init(rawValue:))
            else { return nil }
            return .verdict(outcome, ticket: ticket)
        case "retry":
            guard let ticket = f.ticket(), let call = f.string("call"), let id = f.raw("id") else { return nil }
            return .retry(
                InputRoundRetry(call: call, requestID: JSONRPCID(raw: id), answers: f.raw("answers")),
                ticket: ticket
            )
        case "round":
            guard let ticket = f.ticket() else { return nil }
            if let message = f.raw("message") { return .round(.message(message), ticket: ticket) }
            guard let reply = f.raw("reply") else { return nil }
            return .round(.reply(reply, errorCode: f.integer("code").map { Int($0) }), ticket: ticket)
        case "abandoned":
            return f.ticket().map { .retryAbandoned(ticket: $0) }
        default:
            return nil
        }
    }
}

extension ClusterMessage {
    /// Writes `{"v":…,"t":…` then fields, then `}`.
    fileprivate final class Writer {
        var json = JSONWriter(capacity: 128)

        init(type: String) {
            json.raw("{\"v\":")
            json.raw(Array(String(ClusterMessage.version).utf8))
            json.raw(",\"t\":")
            json.string(type)
        }

        @discardableResult
        func field(_ key: String, _ value: String) -> Writer {
            name(key)
            json.string(value)
            return self
        }

        @discardableResult
        func field(_ key: String, _ value: Int64) -> Writer {
            name(key)
            json.raw(Array(String(value).utf8))
            return self
        }

        @discardableResult
        func optional(_ key: String, _ value: String?) -> Writer {
            if let value { field(key, value) }
            return self
        }

        /// A member whose value is JSON already.
        @discardableResult
        func raw(_ key: String, _ value: [UInt8]) -> Writer {
            name(key)
            json.raw(value)
            return self
        }

        @discardableResult
        func ticket(_ ticket: PostTicket) -> Writer {
            field("node", ticket.node).field("number", Int64(ticket.number))
        }

        private func name(_ key: String) {
            json.raw(",")
            json.string(key)
            json.raw(":")
        }

        func finished() -> [UInt8] {
            json.raw("}")
            return json.bytes
        }
    }

    /// The top-level members of a message: strings and integers read, other values kept raw.
    fileprivate struct Fields {
        var strings: [String: String] = [:]
        var integers: [String: Int64] = [:]
        var raws: [String: [UInt8]] = [:]

        init?(_ bytes: [UInt8]) {
            // Deep enough for any payload a node accepts (VALIDATION_MAX_JSON_DEPTH is at most 256).
            var scanner = JSONScanner(bytes: bytes, maximumDepth: 512)
            guard scanner.peek() == UInt8(ascii: "{") else { return nil }
            var fields = (strings: [String: String](), integers: [String: Int64](), raws: [String: [UInt8]]())
            do {
                try scanner.forEachMember { (scanner: inout JSONScanner, key: String) throws(JSONSyntaxError) in
                    let range = try scanner.skipValue(depth: 1)
                    let value = Array(bytes[range])
                    fields.raws[key] = value
                    if value.first == UInt8(ascii: "\""), let text = Self.string(value) {
                        fields.strings[key] = text
                    } else if let number = Int64(String(decoding: value, as: UTF8.self)) {
                        fields.integers[key] = number
                    }
                }
                try scanner.expectEnd()
            } catch {
                return nil
            }
            (strings, integers, raws) = fields
        }

        /// A JSON string's text: its bytes between the quotes when nothing is escaped (ids, names),
        /// the parser otherwise.
        static func string(_ json: [UInt8]) -> String? {
            guard json.contains(UInt8(ascii: "\\")) else {
                return String(decoding: json.dropFirst().dropLast(), as: UTF8.self)
            }
            return try? JSONScanner.parse(json).stringValue
        }

        func string(_ key: String) -> String? { strings[key] }
        func integer(_ key: String) -> Int64? { integers[key] }
        func raw(_ key: String) -> [UInt8]? { raws[key] }

        func ticket() -> PostTicket? {
            guard let node = string("node"), let number = integer("number") else { return nil }
            return PostTicket(node: node, number: Int(number))
        }
    }
}
