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
