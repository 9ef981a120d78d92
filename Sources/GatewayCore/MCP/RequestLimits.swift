/// The size limits every MCP request must meet before it is answered or forwarded.
extension ValidationRules {
    /// Throws `-32602` when `params` is larger than allowed, or when the `_meta` that would be
    /// forwarded upstream (the protocol's own `io.modelcontextprotocol/` keys aside) has too many
    /// keys, nests too deep or is too large.
    public func checkLimits(of message: JSONRPCMessage) throws(JSONRPCError) {
        guard let params = message.params else { return }
        if params.count > maximumParamsBytes {
            throw JSONRPCError.invalidParams("params exceed \(maximumParamsBytes) bytes", id: message.id)
        }
        guard let metaRange = message.paramMembers().first(where: { $0.key == "_meta" })?.range else { return }
        guard message.bytes[metaRange.lowerBound] == UInt8(ascii: "{") else {
            throw JSONRPCError.invalidParams("_meta must be an object", id: message.id)
        }
        let forwarded = JSONRPCMessage.members(of: message.bytes, in: metaRange)
            .filter { !$0.key.hasPrefix("io.modelcontextprotocol/") }
        if forwarded.count > maximumMetaKeys {
            throw JSONRPCError.invalidParams("_meta has more than \(maximumMetaKeys) keys", id: message.id)
        }
        var size = 0
        for member in forwarded {
            size += member.key.utf8.count + member.range.count
            do {
                _ = try JSONScanner.parse(Array(message.bytes[member.range]), maximumDepth: maximumMetaDepth - 1)
            } catch {
                throw JSONRPCError.invalidParams("_meta nests deeper than \(maximumMetaDepth) levels", id: message.id)
            }
        }
        if size > maximumMetaBytes {
            throw JSONRPCError.invalidParams("_meta exceeds \(maximumMetaBytes) bytes", id: message.id)
        }
    }
}
