/// ASCII case-insensitive matching on a string's UTF-8 bytes, for header values checked on every
/// request (`lowercased()` followed by `contains` costs several microseconds each here).
package enum ASCIICaseInsensitive {
    package static func lowercased(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }

    /// Whether `text` contains `needle`, ignoring ASCII case.
    package static func contains(_ text: String, _ needle: StaticString) -> Bool {
        needle.withUTF8Buffer { needle in
            var text = text
            return text.withUTF8 { bytes in
                guard needle.count <= bytes.count else { return false }
                for start in 0...(bytes.count - needle.count) where matches(bytes, at: start, needle) { return true }
                return false
            }
        }
    }

    /// Whether `text` starts with `prefix` and has more after it, ignoring ASCII case.
    package static func hasPrefix(_ text: String, _ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { prefix in
            var text = text
            return text.withUTF8 { bytes in bytes.count > prefix.count && matches(bytes, at: 0, prefix) }
        }
    }

    package static func matches(
        _ bytes: UnsafeBufferPointer<UInt8>,
        at start: Int,
        _ needle: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        for offset in 0..<needle.count where lowercased(bytes[start + offset]) != lowercased(needle[offset]) {
            return false
        }
        return true
    }
}
