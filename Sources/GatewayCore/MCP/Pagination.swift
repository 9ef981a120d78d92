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

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ offset: Int) -> String {
        let bytes = Array("o:\(offset)".utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for (position, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * position) }
            let characters = chunk.count + 1
            for position in 0..<characters { output.append(alphabet[Int((value >> (18 - 6 * position)) & 0x3F)]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func decode(_ cursor: String) -> Int? {
        var bits: UInt32 = 0
        var bitCount = 0
        var bytes: [UInt8] = []
        for character in cursor.utf8 {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            bits = bits << 6 | UInt32(value)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                bytes.append(UInt8((bits >> UInt32(bitCount)) & 0xFF))
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("o:") else { return nil }
        return Int(text.dropFirst(2))
    }
}
