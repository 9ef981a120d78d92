/// Edits the raw `params` of a request without parsing the payload: replaces one top-level
/// member's value, leaving every other byte as the client sent it.
public enum ParamsRewriter {
    /// The string value of a top-level member of `params`, if it is a string.
    public static func stringMember(_ key: String, in message: JSONRPCMessage) -> String? {
        guard let range = message.paramMembers().first(where: { $0.key == key })?.range else { return nil }
        return try? JSONScanner.parse(Array(message.bytes[range])).stringValue
    }

    /// The value of a top-level member of `params`, parsed.
    public static func member(_ key: String, in message: JSONRPCMessage) -> JSONValue? {
        guard let range = message.paramMembers().first(where: { $0.key == key })?.range else { return nil }
        return try? JSONScanner.parse(Array(message.bytes[range]))
    }

    /// `params` with the value of `key` replaced by the JSON `replacement`.
    public static func replacing(_ key: String, with replacement: [UInt8], in message: JSONRPCMessage) -> [UInt8]? {
        guard let params = message.params,
            let range = message.paramMembers().first(where: { $0.key == key })?.range
        else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(params.count + replacement.count)
        output.append(contentsOf: message.bytes[params.lowerBound..<range.lowerBound])
        output.append(contentsOf: replacement)
        output.append(contentsOf: message.bytes[range.upperBound..<params.upperBound])
        return output
    }

    /// A JSON string literal.
    public static func jsonString(_ value: String) -> [UInt8] {
        var writer = JSONWriter(capacity: value.utf8.count + 2)
        writer.string(value)
        return writer.bytes
    }
}

extension ParamsRewriter {
    /// The prefix of the per-request envelope keys of 2026-07-28 (`protocolVersion`, `clientInfo`,
    /// `clientCapabilities`, `logLevel`), which handshake-era upstreams refuse.
    static let envelopePrefix = "io.modelcontextprotocol/"

    /// `params` without the 2026-07-28 envelope keys in `_meta` (other `_meta` keys, such as
    /// `progressToken`, stay); `_meta` is dropped when nothing is left in it.
    public static func removingEnvelopeMeta(_ params: [UInt8]) -> [UInt8] {
        let members = JSONRPCMessage.members(of: params, in: 0..<params.count)
        guard let meta = members.first(where: { $0.key == "_meta" }),
            case .object(var metaObject)? = try? JSONScanner.parse(Array(params[meta.range])),
            metaObject.keys.contains(where: { $0.hasPrefix(envelopePrefix) })
        else { return params }
        for key in metaObject.keys where key.hasPrefix(envelopePrefix) { metaObject[key] = nil }
        var writer = JSONWriter(capacity: params.count)
        writer.raw("{")
        var first = true
        for member in members {
            let value: [UInt8]
            if member.key == "_meta" {
                if metaObject.count == 0 { continue }
                value = JSONValue.object(metaObject).serializedBytes
            } else {
                value = Array(params[member.range])
            }
            if !first { writer.raw(",") }
            first = false
            writer.string(member.key)
            writer.raw(":")
            writer.raw(value)
        }
        writer.raw("}")
        return writer.bytes
    }
}
