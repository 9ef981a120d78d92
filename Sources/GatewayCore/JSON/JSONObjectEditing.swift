/// Edits the top-level members of a JSON object in its bytes, without parsing the values: every
/// other byte stays as it was.
public enum JSONObjectEditing {
    /// `object` with each of `members` set: an existing member's value replaced, a missing one
    /// added at the end. `nil` when `object` is not a JSON object.
    public static func setting(_ members: [(key: String, value: [UInt8])], in object: [UInt8]) -> [UInt8]? {
        guard let open = object.firstIndex(where: { !isSpace($0) }), object[open] == UInt8(ascii: "{"),
            let close = object.lastIndex(where: { !isSpace($0) }), object[close] == UInt8(ascii: "}")
        else { return nil }
        let existing = JSONRPCMessage.members(of: object, in: open..<(close + 1))
        var output = [UInt8]()
        output.reserveCapacity(object.count + members.reduce(0) { $0 + $1.key.utf8.count + $1.value.count + 4 })
        var copied = open
        let replaced = existing.filter { member in members.contains { $0.key == member.key } }
            .sorted { $0.range.lowerBound < $1.range.lowerBound }
        for member in replaced {
            guard let value = members.first(where: { $0.key == member.key })?.value else { continue }
            output.append(contentsOf: object[copied..<member.range.lowerBound])
            output.append(contentsOf: value)
            copied = member.range.upperBound
        }
        output.append(contentsOf: object[copied..<close])
        var hasMembers = !existing.isEmpty
        for member in members where !existing.contains(where: { $0.key == member.key }) {
            if hasMembers { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: ParamsRewriter.jsonString(member.key))
            output.append(UInt8(ascii: ":"))
            output.append(contentsOf: member.value)
            hasMembers = true
        }
        output.append(UInt8(ascii: "}"))
        return output
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
}
