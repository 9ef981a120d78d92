/// Reads what the gateway needs from a `tools/call` result without decoding it.
enum ToolResult {
    /// Whether the result says `"isError": true`. Only top-level members are looked at; other
    /// values are skipped, not decoded. A result that is not a JSON object is not an error here.
    static func isError(_ result: [UInt8]) -> Bool {
        var scanner = JSONScanner(bytes: result)
        var flagged = false
        do {
            try scanner.forEachMember { (scanner: inout JSONScanner, key: String) throws(JSONSyntaxError) in
                if key == "isError" {
                    flagged = try scanner.parseValue(depth: 1) == .bool(true)
                } else {
                    try scanner.skipValue(depth: 1)
                }
            }
        } catch {
            return false
        }
        return flagged
    }
}
