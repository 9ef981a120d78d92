import ExtrasBase64

/// Cursor pagination of MCP list results. Cursors are opaque to clients: base64url of an offset.
public struct Pagination: Sendable {
    /// Items per page.
    public var pageSize: Int

    public init(pageSize: Int) { self.pageSize = max(1, pageSize) }

    /// The page starting at `cursor` (the first page when `nil`) and the cursor of the next page.
    ///
    /// - Throws: ``JSONRPCError`` `invalidParams` for a cursor this gateway did not issue.
    public func page<Item>(_ items: [Item], cursor: String?) throws(JSONRPCError) -> (ArraySlice<Item>, String?) {
        var start = 0
        if let cursor {
            guard let offset = Self.decode(cursor), offset >= 0, offset <= items.count else {
                throw JSONRPCError.invalidParams("invalid cursor")
            }
            start = offset
        }
        let end = min(items.count, start + pageSize)
        let next = end < items.count ? Self.encode(end) : nil
        return (items[start..<end], next)
    }

    static func encode(_ offset: Int) -> String {
        Base64.encodeToString(bytes: Array("o:\(offset)".utf8), options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }

    static func decode(_ cursor: String) -> Int? {
        guard let bytes = try? Base64.decode(string: cursor, options: [.base64UrlAlphabet, .omitPaddingCharacter])
        else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("o:") else { return nil }
        return Int(text.dropFirst(2))
    }
}
