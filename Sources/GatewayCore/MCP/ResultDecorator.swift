/// Adds the fields the 2026-07-28 era requires on results (`resultType`; and `ttlMs` and
/// `cacheScope` on lists and reads) to results produced locally or by an older upstream,
/// by splicing bytes rather than re-encoding the payload.
public enum ResultDecorator {
    static let listMethods: Set<String> = [
        "tools/list", "resources/list", "resources/templates/list", "prompts/list", "resources/read",
    ]

    /// `result` with the stateless-era fields added for `method`, unless it already has them.
    public static func decorate(_ result: [UInt8], method: String) -> [UInt8] {
        guard let open = result.firstIndex(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            result[open] == UInt8(ascii: "{")
        else { return result }
        // Only a top-level member counts: a tool argument or structured field of that name does not.
        if JSONRPCMessage.members(of: result, in: 0..<result.count).contains(where: { $0.key == "resultType" }) {
            return result
        }
        var insertion = Array(#""resultType":"complete""#.utf8)
        if listMethods.contains(method) { insertion += Array(#","ttlMs":0,"cacheScope":"private""#.utf8) }
        var afterBrace = open + 1
        while afterBrace < result.count, [0x20, 0x0A, 0x0D, 0x09].contains(result[afterBrace]) { afterBrace += 1 }
        let isEmpty = afterBrace < result.count && result[afterBrace] == UInt8(ascii: "}")
        if !isEmpty { insertion.append(UInt8(ascii: ",")) }
        var output = [UInt8]()
        output.reserveCapacity(result.count + insertion.count)
        output.append(contentsOf: result[...open])
        output.append(contentsOf: insertion)
        output.append(contentsOf: result[(open + 1)...])
        return output
    }
}
