/// Reads and edits the raw `params` of a request without parsing the payload: one member's
/// value replaced, the 2026-07-28 envelope removed, every other byte as the client sent it.
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
        guard message.paramMembers().contains(where: { $0.key == key }) else { return nil }
        return forwardedParams(of: message, replacing: (key, replacement), strippingEnvelope: false)
    }

    /// The `params` to send upstream, built in one pass over the members read while decoding:
    /// `replacement` substituted for one top-level member and, when `strippingEnvelope`, the
    /// 2026-07-28 envelope keys taken out of `_meta`. Untouched params are forwarded byte for byte.
    public static func forwardedParams(
        of message: JSONRPCMessage,
        replacing replacement: (key: String, value: [UInt8])?,
        strippingEnvelope: Bool
    ) -> [UInt8]? {
        guard let params = message.params else { return nil }
        return rewrite(
            message.bytes,
            range: params,
            members: message.paramMembers(),
            replacing: replacement,
            strippingEnvelope: strippingEnvelope
        )
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
        let whole = 0..<params.count
        return rewrite(
            params,
            range: whole,
            members: JSONRPCMessage.members(of: params, in: whole),
            replacing: nil,
            strippingEnvelope: true
        )
    }

    /// The object at `range` of `bytes` (whose top-level `members` are known) with the edits of
    /// ``forwardedParams(of:replacing:strippingEnvelope:)``.
    static func rewrite(
        _ bytes: [UInt8],
        range: Range<Int>,
        members: [(key: String, range: Range<Int>)],
        replacing replacement: (key: String, value: [UInt8])?,
        strippingEnvelope: Bool
    ) -> [UInt8] {
        var keptMeta: [(key: String, range: Range<Int>)]?
        if strippingEnvelope, let meta = members.first(where: { $0.key == "_meta" }),
            bytes[meta.range.lowerBound] == UInt8(ascii: "{")
        {
            let metaMembers = JSONRPCMessage.members(of: bytes, in: meta.range)
            if metaMembers.contains(where: { $0.key.hasPrefix(envelopePrefix) }) {
                keptMeta = metaMembers.filter { !$0.key.hasPrefix(envelopePrefix) }
            }
        }
        let replaced = replacement.flatMap { replacement in members.first(where: { $0.key == replacement.key }) }
        guard let keptMeta else {
            // Nothing to take out: splice the replacement in, keeping every other byte.
            guard let replacement, let replaced else { return Array(bytes[range]) }
            var output: [UInt8] = []
            output.reserveCapacity(range.count + replacement.value.count)
            output.append(contentsOf: bytes[range.lowerBound..<replaced.range.lowerBound])
            output.append(contentsOf: replacement.value)
            output.append(contentsOf: bytes[replaced.range.upperBound..<range.upperBound])
            return output
        }
        var writer = JSONWriter(capacity: range.count)
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
                    writer.raw(bytes[kept.range])
                }
                writer.raw("}")
            } else if let replacement, member.key == replacement.key {
                writer.raw(replacement.value)
            } else {
                writer.raw(bytes[member.range])
            }
        }
        writer.raw("}")
        return writer.bytes
    }
}
