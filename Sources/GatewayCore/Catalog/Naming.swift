/// How federated items are named so names from different upstreams never collide.
public struct Naming: Sendable, Hashable {
    /// Placed between the gateway slug and the item's own name (GATEWAY_TOOL_NAME_SEPARATOR).
    public var separator: String

    public init(separator: String = "-") { self.separator = separator }

    /// The slug of a gateway name: lower-case ASCII letters and digits, other runs turned into `-`,
    /// no leading or trailing `-` (ContextForge's slugify).
    public static func slug(_ name: String) -> String {
        var result: [Character] = []
        var pendingDash = false
        for scalar in name.lowercased().unicodeScalars {
            if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                if pendingDash, !result.isEmpty { result.append("-") }
                pendingDash = false
                result.append(Character(scalar))
            } else {
                pendingDash = true
            }
        }
        return String(result)
    }

    /// The name clients see for an upstream item.
    public func qualifiedName(gatewaySlug: String, originalName: String) -> String {
        gatewaySlug + separator + originalName
    }
}
