/// Edits the raw `params` of a request without parsing the payload: replaces one top-level
/// member's value, leaving every other byte as the client sent it.
public enum ParamsRewriter {
    /// The string value of a top-level member of `params`, if it is a string.
    public static func stringMember(_ key: String, in message: JSONRPCMessage) -> String? {
        guard let range = message.paramMembers().first(where: { $0.key == key })?.range else { return nil }
        return string(in: message.bytes, at: range)
    }

    /// The string at `range` of `bytes` (read in place), or `nil` if it is not a string.
    public static func string(in bytes: [UInt8], at range: Range<Int>) -> String? {
        guard range.lowerBound < bytes.count, bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        var scanner = JSONScanner(bytes: bytes)
        scanner.index = range.lowerBound
        return try? scanner.parseString()
    }

    /// The members of `params._meta` with their ranges in the message's bytes (empty when absent).
    public static func metaMembers(in message: JSONRPCMessage) -> [(key: String, range: Range<Int>)]? {
        guard let range = message.paramMembers().first(where: { $0.key == "_meta" })?.range,
            message.bytes[range.lowerBound] == UInt8(ascii: "{")
        else { return nil }
        return JSONRPCMessage.members(of: message.bytes, in: range)
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
        guard let meta = members.first(where: { $0.key == "_meta" }), params[meta.range.lowerBound] == UInt8(ascii: "{")
        else { return params }
        let metaMembers = JSONRPCMessage.members(of: params, in: meta.range)
        guard metaMembers.contains(where: { $0.key.hasPrefix(envelopePrefix) }) else { return params }
        let keptMeta = metaMembers.filter { !$0.key.hasPrefix(envelopePrefix) }
        var writer = JSONWriter(capacity: params.count)
        writer.raw("{")
        var first = true
        for member in members {
            if member.key == "_meta", keptMeta.isEmpty { continue }
            if !first { writer.raw(",") }
            first = false
            writer.string(member.key)
            writer.raw(":")
            if member.key == "_meta" {
                writer.raw("{")
                for (offset, kept) in keptMeta.enumerated() {
                    if offset > 0 { writer.raw(",") }
                    writer.string(kept.key)
                    writer.raw(":")
                    writer.raw(params[kept.range])
                }
                writer.raw("}")
            } else {
                writer.raw(params[member.range])
            }
        }
        writer.raw("}")
        return writer.bytes
    }
}
